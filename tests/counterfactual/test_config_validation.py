"""Config validation gaps: huge seed counts, unsafe ids, unknown scorers, folders with latent
edits, unreadable config files; each one ConfigError naming the file and key."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from counterfactual.config import ConfigError, load_config, validate_config
from counterfactual.errors import UserError

BASE = {
    "seeds": {"start": 0, "count": 30},
    "spaces": ["inception-fid"],
    "pairs_per_draw": 20,
    "interventions": [{"name": "truncation", "params": {"psi": 0.5}}],
}


def _with(**changes) -> dict:
    return {**BASE, **changes}


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(data, source="x.toml")
    return str(info.value)


def test_huge_seed_count_is_checked_without_listing_the_seeds():
    validate_config(BASE)  # imports the registries outside the measurement
    tracemalloc.start()
    try:
        msg = _error(_with(seeds={"start": 0, "count": 10**11}))
        ok = validate_config(_with(seeds={"start": 5, "count": 4_000_000_000}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "key 'seeds'" in msg and "4294967295" in msg and "\n" not in msg
    assert len(ok.seeds) == 4_000_000_000
    assert peak < 50 * 2**20  # a list of 4e9 ints would need > 100 GB
    assert "seeds" in _error(_with(seeds=[1, 2**32]))


@pytest.mark.parametrize("bad", ["..", ".", ".hidden", "a/b", "../x", "a\\b", "x y"])
def test_intervention_id_must_be_a_safe_file_name(bad):
    interventions = [{"name": "truncation", "id": bad, "params": {"psi": 0.5}}]
    assert "interventions[0].id" in _error(_with(interventions=interventions))


def test_dotted_ids_inside_a_name_are_fine():
    cfg = validate_config(
        _with(interventions=[{"name": "truncation", "id": "psi.0.5", "params": {"psi": 0.5}}])
    )
    assert cfg.interventions[0].key == "psi.0.5"


def test_unknown_verification_scorer_is_refused_at_config_time():
    msg = _error(_with(verification={"scorers": ["gender", "gendr"]}))
    assert (
        "verification.scorers" in msg and "'gendr'" in msg and "gender" in msg.split("allowed:")[1]
    )


def test_folder_generator_with_a_latent_intervention_is_refused(tmp_path):
    folder = {"generator": f"folder:{tmp_path}"}
    msg = _error(_with(**folder))
    assert "key 'interventions'" in msg and "'truncation'" in msg and "sample folder" in msg
    cfg = validate_config(_with(**folder, interventions=[{"name": "blur:eyes"}]))
    assert not cfg.interventions[0].uses_latents
    assert validate_config(BASE).interventions[0].uses_latents


def test_random_by_design_space_needs_no_allow_untrained_flag():
    import extractors

    row = next(r for r in extractors.available() if r["name"] == "random-inception")
    assert row["random_weights"]
    cfg = validate_config(_with(spaces=["random-inception"]))
    assert not cfg.spaces[0].allow_untrained
    from extractors.spaces.backbones import RANDOM_INCEPTION

    assert RANDOM_INCEPTION.weight_file is None  # nothing to be missing


@pytest.mark.slow
def test_random_inception_loads_without_the_flag_and_is_labelled_untrained():
    import extractors

    ext = extractors.load_extractor("random-inception", allow_untrained=False, backend="torch")
    assert ext.trained is False and "untrained" in ext.label


def test_config_file_that_is_a_directory_or_not_utf8(tmp_path):
    with pytest.raises(ConfigError, match=r"is a directory") as info:
        load_config(tmp_path)
    assert str(tmp_path) in str(info.value) and isinstance(info.value, UserError)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Pérez"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.toml is not UTF-8"):
        load_config(latin)


def test_one_problem_is_one_line_naming_file_and_key(tmp_path):
    path = Path(tmp_path / "c.toml")
    path.write_text(
        'seeds = {count = 30}\nspaces = ["inception-fid"]\npairs_per_draw = 21\n'
        '[[interventions]]\nname = "truncation"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "pairs_per_draw" in msg
