"""Distortion suite (counterfactual.interventions.distortions): closed-form properties of each
distortion, per-face seeding (batch-size invariance), and the sweep config's `strengths`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from counterfactual.config import ConfigError, validate_config
from counterfactual.interventions import available_interventions, build_intervention
from counterfactual.interventions.distortions import SPECS
from helpers.paths import ROOT

SEEDS = [11, 3, 7, 2024, 5]


def _random(n=5, h=48, w=48, seed=0) -> torch.Tensor:
    rng = np.random.RandomState(seed)
    return torch.from_numpy(rng.randint(0, 256, (n, 3, h, w)).astype(np.uint8))


def _smooth(n=5, h=64, w=64, seed=0) -> torch.Tensor:
    """Smooth images in 40..215 (no clipping by noise of a few grey levels, JPEG-friendly)."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty((n, 3, h, w))
    for i in range(n):
        for c in range(3):
            a, b, p, q = rng.uniform(1, 4, 4)
            out[i, c] = 127.5 + 60 * np.sin(2 * np.pi * a * x + p) * np.cos(2 * np.pi * b * y + q)
    return torch.from_numpy(np.rint(out).astype(np.uint8))


def _twins(name: str, images: torch.Tensor, seeds=SEEDS, **params) -> torch.Tensor:
    return build_intervention(name, **params).counterfactual(None, seeds[: len(images)], images)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def test_every_distortion_is_registered():
    names = set(available_interventions())
    assert "flip:<vertical|horizontal>" in names
    for spec in SPECS.values():
        if not spec.name.startswith("flip:"):
            assert spec.name in names


def test_flips_match_numpy_and_are_involutions():
    img = _random(3, 20, 30)
    h = _twins("flip:horizontal", img)
    v = _twins("flip:vertical", img)
    for i in range(3):
        assert np.array_equal(_hwc(h)[i], np.fliplr(_hwc(img)[i]))
        assert np.array_equal(_hwc(v)[i], np.flipud(_hwc(img)[i]))
    assert torch.equal(_twins("flip:horizontal", h), img)
    assert torch.equal(_twins("flip:vertical", v), img)
    with pytest.raises(ValueError, match="flip axis"):
        build_intervention("flip:diagonal")


def test_rotate_zero_is_identity_and_90_is_rot90():
    img = _random(3, 32, 32)
    assert torch.equal(_twins("rotate", img, degrees=0), img)
    r90 = _twins("rotate", img, degrees=90)
    ref = np.rot90(_hwc(img), k=1, axes=(1, 2))  # counter-clockwise as displayed
    assert np.abs(_hwc(r90).astype(int) - ref.astype(int)).max() <= 1
    assert np.array_equal(
        _twins("rotate", img, degrees=-90).numpy(), np.rot90(img.numpy(), k=-1, axes=(2, 3))
    )
    assert torch.equal(_twins("rotate", img, degrees=360), img)


def test_shift_moves_content_by_whole_pixels():
    img = _random(2, 16, 20)
    out = _twins("shift", img, pixels=3)
    assert torch.equal(out[..., 3:], img[..., :-3])
    assert torch.equal(out[..., :3], img[..., :1].expand(-1, -1, -1, 3))  # replicated border
    assert torch.equal(_twins("shift", img, pixels=0), img)


def test_puzzle_is_a_tile_permutation_and_k1_identity():
    img = _random(4, 50, 50)  # 50 = 3 * 16 + 2: the last 2 rows/cols stay in place
    assert torch.equal(_twins("puzzle", img, k=1), img)
    k, t = 3, 50 // 3
    out = _twins("puzzle", img, k=k)
    for i in range(len(img)):
        a, b = img[i].numpy(), out[i].numpy()
        tiles = lambda x: sorted(
            x[:, r * t : (r + 1) * t, c * t : (c + 1) * t].tobytes()  # noqa: E731
            for r in range(k)
            for c in range(k)
        )
        assert tiles(a) == tiles(b)  # same multiset of tiles
        assert not np.array_equal(a, b)  # never the identity
        assert np.array_equal(a[:, k * t :], b[:, k * t :]) and np.array_equal(
            a[:, :, k * t :], b[:, :, k * t :]
        )
    with pytest.raises(ValueError, match="exceeds"):
        _twins("puzzle", _random(1, 4, 4), k=5)


def test_erase_changes_at_most_n_patches_of_side_s():
    img = torch.full((4, 3, 40, 40), 128, dtype=torch.uint8)  # no pixel equals the fill
    n, size = 3, 0.2
    s = round(size * 40)
    out = _twins("erase", img, n=n, size=size, fill=0)
    for i in range(len(img)):
        changed = (out[i] != img[i]).any(dim=0)
        assert torch.equal((out[i] == 0).all(dim=0), changed)  # changed pixels are the fill
        assert s * s <= int(changed.sum()) <= n * s * s
    disjoint = _twins("erase", img, n=1, size=size)
    assert all(int((disjoint[i] != img[i]).any(dim=0).sum()) == s * s for i in range(len(img)))
    assert torch.equal(_twins("erase", img, n=0), img)
    # strengths share their random numbers: erase@1's patch is erase@3's first
    three = _twins("erase", img, n=3, size=size)
    assert ((three == 0) | (disjoint != 0)).all()


def test_jpeg_quality_100_close_and_error_monotone():
    img = _smooth(4)
    err = {
        q: float((_twins("jpeg", img, quality=q).double() - img.double()).abs().mean())
        for q in (100, 75, 40, 10)
    }
    assert err[100] < err[75] < err[40] < err[10]
    # grey images (no chroma to subsample): quality 100 is within one grey level
    grey = img[:, :1].expand(-1, 3, -1, -1).contiguous()
    d = (_twins("jpeg", grey, quality=100).double() - grey.double()).abs()
    assert float(d.max()) <= 1 and float(d.mean()) < 0.2


def test_noise_sigma_zero_identity_and_empirical_sigma():
    img = _smooth(4, 64, 64)
    assert torch.equal(_twins("noise", img, sigma=0), img)
    for sigma in (2.0, 10.0):
        d = (_twins("noise", img, sigma=sigma).double() - img.double()).numpy()
        # rounding adds variance 1/12; relative sampling error of the SD ~ 1/sqrt(2 * 49152)
        assert np.std(d) == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.02)
        assert abs(np.mean(d)) < 4 * sigma / np.sqrt(d.size)  # 4 standard errors


def test_resample_factor_one_identity_and_blurs_more_with_factor():
    img = _random(3, 48, 48)
    assert torch.equal(_twins("resample", img, factor=1), img)
    err = [
        float((_twins("resample", img, factor=f).double() - img.double()).abs().mean())
        for f in (2, 4, 8)
    ]
    assert err[0] < err[1] < err[2]
    flat = torch.full((1, 3, 48, 48), 77, dtype=torch.uint8)  # a constant survives any factor
    assert torch.equal(_twins("resample", flat, factor=3.5), flat)


def test_swirl_zero_identity_and_radial_image_invariant():
    img = _random(2, 40, 40)
    assert torch.equal(_twins("swirl", img, strength=0), img)
    h = w = 65
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot(x - (w - 1) / 2, y - (h - 1) / 2)
    radial = np.rint(127.5 + 100 * np.cos(r / 4)).astype(np.uint8)  # depends on r only
    radial_img = torch.from_numpy(np.repeat(radial[None, None], 3, axis=1))
    out = _twins("swirl", radial_img, strength=3.0, radius=0.5)
    inner = r < 30  # away from reflected borders
    assert np.abs(out[0, 0].numpy().astype(int) - radial.astype(int))[inner].mean() < 3
    assert float((_twins("swirl", img, strength=3.0).double() - img.double()).abs().mean()) > 10


@pytest.mark.parametrize(
    "name,params",
    [
        ("erase", {"n": 5}),
        ("puzzle", {"k": 4}),
        ("noise", {"sigma": 12.0}),
        ("rotate", {"degrees": 17}),
        ("swirl", {}),
        ("jpeg", {}),
        ("resample", {"factor": 3}),
    ],
)
def test_seeded_per_face_and_batch_size_invariant(name, params):
    img = _random(5, 36, 36)
    iv = build_intervention(name, **params)
    whole = iv.counterfactual(None, SEEDS, img, batch_size=5)
    singles = torch.cat(
        [iv.counterfactual(None, [s], img[i : i + 1], batch_size=1) for i, s in enumerate(SEEDS)]
    )
    assert torch.equal(whole, singles)
    order = [3, 0, 4, 1, 2]  # batch position is irrelevant
    shuffled = iv.counterfactual(None, [SEEDS[j] for j in order], img[order], batch_size=2)
    assert torch.equal(shuffled, whole[order])
    again = build_intervention(name, **params).counterfactual(None, SEEDS, img)
    assert torch.equal(again, whole)


@pytest.mark.parametrize(
    "name,params", [("erase", {"n": 5}), ("puzzle", {"k": 4}), ("noise", {"sigma": 12.0})]
)
def test_seeded_distortions_depend_on_the_face_seed_and_the_seed_param(name, params):
    img = _random(1, 36, 36).expand(2, -1, -1, -1).contiguous()  # the same image twice
    out = build_intervention(name, **params).counterfactual(None, [1, 2], img)
    assert not torch.equal(out[0], out[1])
    other = build_intervention(name, seed=1, **params).counterfactual(None, [1, 2], img)
    assert not torch.equal(other[0], out[0])


def test_any_resolution_and_empty_batch():
    for name in (
        "rotate",
        "erase",
        "swirl",
        "puzzle",
        "noise",
        "jpeg",
        "resample",
        "flip:vertical",
    ):
        img = _random(2, 37, 53)
        out = _twins(name, img)
        assert out.shape == img.shape and out.dtype == torch.uint8
        empty = img[:0]
        assert _twins(name, empty, seeds=[]).shape == empty.shape


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("rotate", {"degrees": "ten"}, "must be a number"),
        ("rotate", {"degrees": 400}, "<= 360"),
        ("jpeg", {"quality": 0}, ">= 1"),
        ("jpeg", {"quality": 50.5}, "integer"),
        ("noise", {"sigma": -1}, ">= 0"),
        ("resample", {"factor": 0.5}, ">= 1"),
        ("puzzle", {"k": 0}, ">= 1"),
        ("erase", {"size": 0}, "> 0"),
        ("erase", {"n": -2}, ">= 0"),
        ("erase", {"fill": 300}, "<= 255"),
        ("rotate", {"border": "wrap"}, "one of"),
        ("swirl", {"radius": 0}, "> 0"),
        ("noise", {"sigma": float("nan")}, "finite"),
        ("rotate", {"deg": 3}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_refused(name, params, match):
    with pytest.raises(ValueError, match=match):
        build_intervention(name, **params)


def test_describe_names_strength_and_unit():
    d = build_intervention("rotate", degrees=15).describe()
    assert d["kind"] == "distortion" and d["strength"] == {
        "param": "degrees",
        "value": 15.0,
        "unit": "degrees, counter-clockwise",
    }
    assert (
        build_intervention("rotate", degrees=15).describe()
        != build_intervention("rotate").describe()
    )
    assert "strength" not in build_intervention("flip:vertical").describe()


# ---- the sweep config's strengths ------------------------------------------------------
def _config(*interventions, **extra):
    data = {
        "seeds": {"count": 8},
        "spaces": ["random-inception"],
        "pairs_per_draw": 4,
        "interventions": list(interventions),
        **extra,
    }
    return validate_config(data)


def test_strengths_expand_to_one_intervention_per_strength():
    cfg = _config(
        {"name": "rotate", "strengths": [5, 10.0, 2.5], "dose": False},
        {"name": "erase", "id": "patches", "strengths": [2, 8], "params": {"size": 0.05}},
        "flip:vertical",
    )
    keys = [iv.key for iv in cfg.interventions]
    assert keys == [
        "rotate@5",
        "rotate@10",
        "rotate@2.5",
        "patches@2",
        "patches@8",
        "flip:vertical",
    ]
    assert cfg.intervention("rotate@2.5").params == {"degrees": 2.5}
    assert cfg.intervention("patches@8").params == {"size": 0.05, "n": 8}
    assert not cfg.intervention("rotate@10").dose
    # the expanded config round-trips (overrides re-validate its dump without expanding again)
    assert [iv.key for iv in cfg.with_overrides(batch_size=4).interventions] == keys


@pytest.mark.parametrize(
    "entry,match",
    [
        ({"name": "rotate", "strengths": []}, "non-empty list"),
        ({"name": "rotate", "strengths": 10}, "non-empty list"),
        ({"name": "rotate", "strengths": ["a"]}, "must be numbers"),
        ({"name": "rotate", "strengths": [5, 5.0]}, "duplicate strength"),
        ({"name": "jpeg", "strengths": [50, 0]}, "strength 0: jpeg quality must be >= 1"),
        ({"name": "noise", "strengths": [-1]}, "sigma must be >= 0"),
        ({"name": "flip:vertical", "strengths": [1]}, "no strength parameter"),
        ({"name": "truncation", "strengths": [0.5]}, "no strength parameter"),
        ({"name": "rotate", "strengths": [5], "params": {"degrees": 3}}, "not both"),
        ({"name": "nosuch", "strengths": [5]}, "nosuch"),
    ],
)
def test_bad_strengths_are_config_errors(entry, match):
    with pytest.raises(ConfigError, match=match):
        _config(entry)


def test_expanded_ids_must_be_unique():
    with pytest.raises(ConfigError, match="duplicate intervention id"):
        _config({"name": "rotate", "strengths": [10]}, {"name": "rotate", "id": "rotate@10"})


# ---- in a sweep: strengths, one generation per set, parsing agreement in verification -------
def test_sweep_with_strengths_and_parsing_agreement(tmp_path, sweep_fakes):
    import json

    import pandas as pd

    from counterfactual.config import load_config
    from counterfactual.engine.components import Components
    from counterfactual.interventions.verify import parsing_agreement
    from counterfactual.sweep import run_sweep

    fakes = sweep_fakes
    extra = (
        '\n[[interventions]]\nname = "rotate"\nstrengths = [10, 90]\n'
        '\n[[interventions]]\nname = "flip:vertical"\n'
    )
    config = load_config(fakes.write_config(tmp_path / "sweep.toml", extra))
    # stand-in parsing: "class" = brightness bucket of each pixel
    labels = lambda x: (x.double().mean(dim=1) // 64).numpy().astype(np.uint8)  # noqa: E731
    calls: list[str] = []

    def agreement():
        def measure(base, twin):
            calls.append("parse")
            return parsing_agreement(labels(base), labels(twin))

        return measure

    comps = Components(
        load_scorer=fakes.load_scorer,
        identity_similarity=fakes.identity_similarity,
        parsing_agreement=agreement,
    )
    result = run_sweep(
        config, tmp_path / "run", progress=False, components=comps, log=lambda s: None
    )
    n_sets = 1 + len(config.interventions)
    assert result.work["images_generated"] == n_sets * 24  # each set generated once
    table = pd.read_csv(tmp_path / "run" / "tables" / "dose_response.csv")
    assert {"rotate@10", "rotate@90", "flip:vertical"} <= set(table.intervention)
    v = json.loads((tmp_path / "run" / "tables" / "verification.json").read_text())
    assert "parsing_agreement" not in v["fake_latent"]  # only distortions ask for it
    assert len(calls) == 3
    gen = fakes.FakeGenerator()
    base = gen.images_for_seeds(config.seed_list)
    flipped = build_intervention("flip:vertical").counterfactual(gen, config.seed_list, base)
    expected = parsing_agreement(labels(base), labels(flipped))
    assert v["flip:vertical"]["parsing_agreement"]["mean"] == pytest.approx(
        expected.mean(), rel=1e-12
    )
    assert v["flip:vertical"]["parsing_agreement"]["n"] == 24
    assert v["rotate@10"]["identity"]["n"] == 24


def test_parsing_agreement_closed_form():
    from counterfactual.interventions.verify import parsing_agreement

    a = np.zeros((2, 4, 4), np.uint8)
    a[:, :2] = 1  # top half class 1, bottom half 0
    b = a.copy()
    b[1] = a[1, ::-1]  # second pair: halves swapped
    b[0, 2, :2] = 1  # first pair: 2 of 16 pixels 0 -> 1
    assert np.array_equal(parsing_agreement(a, b), [14 / 16, 0.0])
    assert np.array_equal(parsing_agreement(a, a), [1.0, 1.0])
    with pytest.raises(ValueError, match="class maps"):
        parsing_agreement(a, a[:, :2])


@pytest.mark.slow
def test_flip_changes_arcface_fd_far_more_than_a_shift():
    """Acceptance (issue 23): real DCGAN faces, real ArcFace (experiments/flip_vs_shift.py)."""
    import importlib.util

    from extractors import load_extractor

    if not load_extractor("arcface").trained:
        pytest.skip("ArcFace weights not installed")
    path = ROOT / "experiments" / "flip_vs_shift.py"
    spec = importlib.util.spec_from_file_location("flip_vs_shift", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.measure(n=120)
    flip, moved = out["flip:vertical"], out["shift@1"]
    assert flip["fd_paired_same_faces"] > 10 * moved["fd_paired_same_faces"]
    assert flip["excess_over_floor"] > 0.5 * out["fd_floor"]  # far above sampling noise
    assert abs(moved["excess_over_floor"]) < 0.2 * out["fd_floor"]  # within it
