"""Sweep config validation: defaults, accepted forms, and errors naming key + allowed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from counterfactual.config import (
    DEFAULT_DELTAS,
    ConfigError,
    SweepConfig,
    config_diff,
    load_config,
    validate_config,
)

MINIMAL = """
seeds = {start = 5, count = 30}
spaces = ["inception-fid", {name = "random-inception", allow_untrained = true}]
pairs_per_draw = 20
[[interventions]]
name = "truncation"
params = {psi = 0.5}
"""


def _load(tmp_path: Path, text: str) -> SweepConfig:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_minimal_config_defaults(tmp_path):
    cfg = _load(tmp_path, MINIMAL)
    assert cfg.generator.spec == "dcgan-digiface"
    assert cfg.seed_list == list(range(5, 35))
    # default grid: 0..1 in steps of 0.05 = 21 points
    assert len(cfg.deltas) == 21
    np.testing.assert_allclose(cfg.deltas, np.linspace(0, 1, 21), atol=1e-12)
    assert cfg.draws == 10 and cfg.device == "cpu"
    assert [s.name for s in cfg.spaces] == ["inception-fid", "random-inception"]
    assert cfg.spaces[1].allow_untrained and not cfg.spaces[0].allow_untrained
    assert cfg.interventions[0].key == "truncation" and cfg.interventions[0].params == {"psi": 0.5}


def test_explicit_seed_list_and_delta_table(tmp_path):
    text = (
        MINIMAL.replace(
            "seeds = {start = 5, count = 30}",
            "seeds = [" + ", ".join(str(s) for s in range(100, 130)) + "]",
        )
        + "deltas = {start = 0.0, stop = 1.0, step = 0.25}\n"
    )
    # keys after [[interventions]] belong to that table in TOML: put deltas first
    text = "deltas = {start = 0.0, stop = 1.0, step = 0.25}\n" + text.replace(
        "deltas = {start = 0.0, stop = 1.0, step = 0.25}\n", ""
    )
    cfg = _load(tmp_path, text)
    assert cfg.seed_list == list(range(100, 130))
    assert cfg.deltas == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_unknown_top_level_key_names_key_and_allowed(tmp_path):
    msg = _error(tmp_path, "drawz = 3\n" + MINIMAL)
    assert "'drawz'" in msg and "unknown key" in msg
    assert "draws" in msg and "pairs_per_draw" in msg  # the allowed keys are listed
    assert str(tmp_path / "sweep.toml") in msg


def test_nested_unknown_key_lists_that_tables_keys(tmp_path):
    msg = _error(tmp_path, MINIMAL.replace("allow_untrained = true", "allowuntrained = true"))
    assert "'spaces[1].allowuntrained'" in msg
    assert "allowed keys here: name, allow_untrained" in msg
    msg = _error(tmp_path, MINIMAL.replace("{start = 5, count = 30}", "{start = 5, cnt = 30}"))
    assert "'seeds.cnt'" in msg and "count" in msg and "values" in msg


def test_unknown_space_lists_registered_spaces(tmp_path):
    msg = _error(tmp_path, MINIMAL.replace('"inception-fid"', '"inceptionfid"'))
    assert "'spaces[0].name'" in msg and "'inceptionfid'" in msg
    assert "inception-fid" in msg.split("allowed:")[1] and "arcface" in msg


def test_unknown_intervention_and_parameter(tmp_path):
    msg = _error(tmp_path, MINIMAL.replace('name = "truncation"', 'name = "gendr"'))
    assert "'interventions[0]'" in msg and "'gendr'" in msg
    assert "gender" in msg and "truncation" in msg  # allowed names
    msg = _error(tmp_path, MINIMAL.replace("psi = 0.5", "psy = 0.5"))
    assert "'interventions[0]'" in msg and "psy" in msg and "psi" in msg


def test_value_errors_name_allowed_values(tmp_path):
    msg = _error(tmp_path, 'device = "gpu"\n' + MINIMAL)
    assert "'device'" in msg and "'cpu'" in msg and "'cuda:<index>'" in msg
    msg = _error(tmp_path, 'generator = "biggan"\n' + MINIMAL)
    assert "'generator.spec'" in msg and "dcgan-digiface" in msg and "stylegan2" in msg
    msg = _error(tmp_path, MINIMAL + '[verification]\nmethod = "jackknife"\n')
    assert "'verification.method'" in msg and "'t'" in msg and "'bootstrap'" in msg


def test_every_problem_is_reported_at_once(tmp_path):
    msg = _error(tmp_path, 'device = "tpu"\ndraws = 0\n' + MINIMAL.replace("20", "21"))
    assert "'device'" in msg and "'draws'" in msg and "'pairs_per_draw'" in msg
    assert "even" in msg


@pytest.mark.parametrize(
    "change, key",
    [
        ("pairs_per_draw = 20", "pairs_per_draw"),  # more pairs than seeds
        ("deltas", "deltas"),
        ("duplicate", "interventions"),
        ("both seed forms", "seeds"),
    ],
)
def test_semantic_checks(tmp_path, change, key):
    text = MINIMAL
    if change == "pairs_per_draw = 20":
        text = text.replace("pairs_per_draw = 20", "pairs_per_draw = 40")
    elif change == "deltas":
        text = "deltas = [0.5, 0.2, 1.5]\n" + text
    elif change == "duplicate":
        text += '[[interventions]]\nname = "truncation"\nparams = {psi = 0.7}\n'
    else:
        text = text.replace("{start = 5, count = 30}", "{count = 30, values = [1, 2]}")
    msg = _error(tmp_path, text)
    assert f"'{key}" in msg


def test_ids_tell_repeated_interventions_apart(tmp_path):
    text = (
        MINIMAL + '[[interventions]]\nname = "truncation"\nid = "trunc-0.7"\nparams = {psi = 0.7}\n'
    )
    cfg = _load(tmp_path, text)
    assert [i.key for i in cfg.interventions] == ["truncation", "trunc-0.7"]


def test_toml_and_file_errors(tmp_path):
    msg = _error(tmp_path, "seeds = {start = \n")
    assert "invalid TOML" in msg and "sweep.toml" in msg
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_identity_ignores_execution_keys_and_diff_names_changes(tmp_path):
    cfg = _load(tmp_path, MINIMAL)
    fast = cfg.with_overrides(device="cuda", batch_size=64)
    assert fast.device == "cuda" and fast.batch_size == 64
    assert fast.identity() == cfg.identity()
    other = validate_config({**cfg.model_dump(mode="python"), "draws": 3})
    assert config_diff(cfg.identity(), other.identity()) == ["draws: 10 -> 3"]
    assert DEFAULT_DELTAS[0] == 0.0 and DEFAULT_DELTAS[-1] == 1.0


def test_space_weights_path_reaches_the_extractor_loader(tmp_path):
    """A space's `weights` key is passed to load_extractor: a missing file is named in the error."""
    from counterfactual.config import SpaceConfig
    from counterfactual.engine.components import _default_extractor
    from extractors.runtime.weights import MissingWeightsError

    missing = tmp_path / "ViT-B-32.pt"
    space = SpaceConfig(name="clip-vit-b32", weights=str(missing))
    with pytest.raises(MissingWeightsError, match="ViT-B-32.pt"):
        _default_extractor(space, "cpu")
