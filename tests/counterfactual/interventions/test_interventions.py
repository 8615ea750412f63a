"""Interventions on stand-ins: registry, latent edits, directions, truncation, verification."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from counterfactual.config import VerificationConfig
from counterfactual.interventions import available_interventions, build_intervention
from counterfactual.interventions.attributes import LatentEdit
from counterfactual.interventions.directions import (
    Direction,
    LearnSettings,
    calibrate_alpha,
    condition_direction,
    learn_direction,
    load_direction,
    save_direction,
)
from counterfactual.interventions.latent import edit_latents, pca_directions
from counterfactual.interventions.truncation import truncate
from counterfactual.interventions.verify import mean_ci, verify_intervention
from helpers.intervention_standins import Brightness, GreenLevel, ToyGAN
from helpers.paths import fixture_dir

FIXTURE = fixture_dir("stylegan2-ada-tiny")


# -- registry -------------------------------------------------------------------------------
def test_registry_lists_names_and_rejects_unknown():
    names = available_interventions()
    for n in (
        "hat",
        "hat_occluder",
        "hair_length",
        "gender",
        "age",
        "truncation",
        "blur:<region>",
        "fill:<region>",
        "direction:<path.npy>",
    ):
        assert n in names
    with pytest.raises(ValueError, match="allowed: .*gender.*truncation"):
        build_intervention("moustache")
    with pytest.raises(ValueError, match="needs an argument"):
        build_intervention("blur")
    with pytest.raises(ValueError, match="takes no ':' argument"):
        build_intervention("gender:x")
    with pytest.raises(
        ValueError, match="allowed: eyes, brows, nose, mouth, hair, hat, skin, ears, neck"
    ):
        build_intervention("blur:chin")
    with pytest.raises(ValueError, match="unknown parameter.*phi.*allowed: psi, cutoff"):
        build_intervention("truncation", phi=0.3)
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        build_intervention("direction:/nope.npy")
    with pytest.raises(ValueError, match="unknown parameter.*shape"):
        build_intervention("hat", direction="x.npy", shape="cap")


def test_build_known_names():
    assert build_intervention("hat_occluder").synthetic is True
    assert "synthetic occluder" in build_intervention("hat_occluder").describe()["name"]
    for learned in ("hat", "hair_length"):  # learned from their parsing scorers
        edit = build_intervention(learned)
        assert edit.synthetic is False and edit.target_scorer == learned
    assert build_intervention("truncation").describe()["psi"] == 0.5
    g = build_intervention("gender")
    assert g.target_scorer == "gender" and g.synthetic is False
    assert build_intervention("age", shift=5.0).describe()["requested_shift"] == 5.0
    assert build_intervention("blur:eyes").name == "blur:eyes"
    assert build_intervention("fill:all", color=[1, 2, 3]).describe()["color"] == [1, 2, 3]


# -- latent edits ---------------------------------------------------------------------------
def test_wplus_layer_range_edit_changes_only_those_layers():
    rng = np.random.RandomState(1)
    ws = torch.tensor(rng.randn(5, 8, 6), dtype=torch.float32)
    n = rng.randn(6)
    out = edit_latents(ws, n, 2.5, layers=(2, 5))
    assert torch.equal(out[:, :2], ws[:, :2]) and torch.equal(out[:, 5:], ws[:, 5:])
    np.testing.assert_allclose(out[:, 2:5].numpy(), ws[:, 2:5].numpy() + 2.5 * n, atol=1e-6)
    per_sample = edit_latents(ws[:, 0], n, torch.tensor([0.0, 1, 2, 3, 4]))
    np.testing.assert_allclose(
        per_sample.numpy(), ws[:, 0].numpy() + np.arange(5)[:, None] * n, atol=1e-6
    )
    with pytest.raises(ValueError, match="direction has 5 entries"):
        edit_latents(ws, n[:5], 1.0)


def test_latent_edit_in_wplus_through_the_generator(tmp_path):
    gen = ToyGAN(z_dim=6, w_dim=5, num_ws=4)
    n = np.random.RandomState(3).randn(5)
    path = tmp_path / "stylegan_toy_attr_w_boundary.npy"
    np.save(path, n[None].astype(np.float32))
    edit = build_intervention(f"direction:{path}", alpha=1.5, layers=[1, 3])
    edit.prepare(gen, tmp_path)
    seeds = [4, 5, 6]
    base = gen.images_for_seeds(seeds)
    twins = edit.counterfactual(gen, seeds, base)
    space, ws = gen.image_calls[-1]
    assert space == "w"
    ref = gen.mapping(gen.latents(seeds))
    unit = n / np.linalg.norm(n)
    np.testing.assert_allclose(
        (ws - ref).numpy()[:, 1:3], np.broadcast_to(1.5 * unit, (3, 2, 5)), atol=1e-5
    )
    assert torch.equal(ws[:, [0, 3]], ref[:, [0, 3]])
    # rows drawn by layers 1-2 change, rows of layers 0 and 3 do not
    assert torch.equal(twins[:, 0, :4], base[:, 0, :4]) and torch.equal(
        twins[:, 0, 12:], base[:, 0, 12:]
    )
    assert not torch.equal(twins[:, 0, 4:12], base[:, 0, 4:12])
    assert edit.describe()["layers"] == [1, 3] and edit.describe()["space"] == "w"
    with pytest.raises(ValueError, match="outside 0..4"):
        bad = build_intervention(f"direction:{path}", layers=[2, 9])
        bad.prepare(gen, tmp_path)


def test_pca_directions_recover_dominant_axis():
    gen = ToyGAN(z_dim=6, w_dim=6, num_ws=2)
    u, _, vt = np.linalg.svd(np.random.RandomState(0).randn(6, 6))
    gen.A = torch.tensor(u @ np.diag([5.0, 2.0, 1, 0.5, 0.3, 0.1]) @ vt, dtype=torch.float32)
    comps, var = pca_directions(gen, n_samples=3000, n_components=2)
    assert abs(comps[0] @ u[:, 0]) > 0.99 and abs(comps[1] @ u[:, 1]) > 0.95
    assert var[0] == pytest.approx(25.0, rel=0.1)


# -- directions -----------------------------------------------------------------------------
def test_learned_direction_recovers_planted_direction(tmp_path):
    gen, scorer = ToyGAN(z_dim=8), Brightness()
    d = learn_direction(
        gen, scorer, LearnSettings(space="z", n_samples=600, quantile=0.25, holdout=0.3)
    )
    assert float(d.vector @ gen.n_true.numpy()) > 0.9  # points towards higher scores
    assert d.provenance["held_out_balanced_accuracy"] >= 0.9
    assert d.provenance["n_held_out"] == 2 * round(0.3 * 150)
    assert d.provenance["scorer"] == "brightness" and d.provenance["generator"]["spec"] == "toy"
    path = save_direction(d, tmp_path / "bright.npy")
    again = load_direction(path, generator=gen)
    np.testing.assert_array_equal(again.vector, d.vector)
    assert (
        again.provenance["held_out_balanced_accuracy"] == d.provenance["held_out_balanced_accuracy"]
    )
    assert np.load(path).shape == (1, 8)


def test_learned_direction_in_w_space():
    gen = ToyGAN(z_dim=6, w_dim=5, num_ws=3)
    d = learn_direction(gen, Brightness(), LearnSettings(space="w", n_samples=600, quantile=0.25))
    assert d.space == "w" and float(d.vector @ gen.n_true.numpy()) > 0.9


def test_interfacegan_npy_round_trip_and_errors(tmp_path):
    v = np.random.RandomState(0).randn(1, 512).astype(np.float32)
    v /= np.linalg.norm(v)
    p = tmp_path / "stylegan_ffhq_age_w_boundary.npy"
    np.save(p, v)
    d = load_direction(p)
    assert d.space == "w" and d.dim == 512
    np.testing.assert_allclose(
        d.vector, v[0].astype(np.float64) / np.linalg.norm(v[0].astype(np.float64))
    )
    assert d.provenance["file_sha256"] and "InterFaceGAN" in d.provenance["source"]
    assert load_direction(p, space="z").space == "z"  # explicit space beats the file name
    out = save_direction(d, tmp_path / "copy.npy")
    back = np.load(out)
    assert back.shape == (1, 512)
    np.testing.assert_allclose(back[0], v[0], atol=1e-7)
    assert json.loads((tmp_path / "copy.json").read_text())["space"] == "w"
    with pytest.raises(ValueError, match="'w'-space direction, but space='z'"):
        load_direction(out, space="z")  # our provenance is authoritative

    z_file = tmp_path / "pggan_celebahq_gender_boundary.npy"
    np.save(z_file, v)
    with pytest.raises(ValueError, match="pass space='z' or space='w'"):
        load_direction(z_file)
    assert load_direction(z_file, space="z").space == "z"
    for shape in [(2, 512), (1, 512, 1), (1, 8, 64)]:
        np.save(tmp_path / "bad.npy", np.ones(shape, np.float32))
        with pytest.raises(ValueError, match=r"bad.npy: direction must have shape \(1, dim\)"):
            load_direction(tmp_path / "bad.npy", space="w")
    np.save(tmp_path / "zero.npy", np.zeros((1, 8)))
    with pytest.raises(ValueError, match="finite and non-zero"):
        load_direction(tmp_path / "zero.npy", space="z")
    np.save(tmp_path / "ints.npy", np.ones((1, 8), np.int64))
    with pytest.raises(ValueError, match="floating point"):
        load_direction(tmp_path / "ints.npy", space="z")
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        load_direction(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="generator z_dim=8"):
        load_direction(z_file, generator=ToyGAN(z_dim=8))


def test_conditioning_makes_direction_orthogonal():
    rng = np.random.RandomState(0)
    n, a, b = (Direction(rng.randn(20), "w") for _ in range(3))
    c = condition_direction(n, [a, b])
    assert abs(c.vector @ a.vector) < 1e-12 and abs(c.vector @ b.vector) < 1e-12
    assert np.linalg.norm(c.vector) == pytest.approx(1.0)
    q, _ = np.linalg.qr(np.stack([a.vector, b.vector], axis=1))  # independent reference
    ref = n.vector - q @ (q.T @ n.vector)
    np.testing.assert_allclose(c.vector, ref / np.linalg.norm(ref), atol=1e-12)
    assert len(c.provenance["conditioned_on"]) == 2
    with pytest.raises(ValueError, match="span"):
        condition_direction(a, [a])


def test_calibration_hits_requested_shift():
    gen, scorer = ToyGAN(z_dim=8), Brightness()
    d = Direction(gen.n_true.numpy(), "z")
    seeds = list(range(100, 164))
    cal = calibrate_alpha(gen, d, scorer, target_shift=40.0, seeds=seeds, tolerance=1.0)
    assert cal.converged and abs(cal.achieved_shift - 40.0) <= 1.0
    # independent check: closed-form expected shift of the planted generator at that alpha
    t = gen.latents(seeds).double().numpy() @ gen.n_true.double().numpy()
    red = lambda a: np.mean(np.clip(np.tanh(1.5 * (t + a)) * 127.5 + 128, 0, 255))  # noqa: E731
    exact = optimize.brentq(lambda a: red(a) - red(0) - 40.0, 0, 10)
    assert cal.alpha == pytest.approx(exact, abs=0.05)
    neg = calibrate_alpha(gen, d, scorer, target_shift=-30.0, seeds=seeds, tolerance=1.0)
    assert neg.alpha < 0 and abs(neg.achieved_shift + 30.0) <= 1.0
    with pytest.raises(ValueError, match="cannot reach a shift of 500"):
        calibrate_alpha(gen, d, scorer, target_shift=500.0, seeds=seeds)


def test_learned_edit_prepare_caches_and_calibrates(tmp_path):
    gen, scorer = ToyGAN(z_dim=8), Brightness()
    edit = LatentEdit(
        "bright",
        scorer=scorer,
        shift=30.0,
        n_samples=400,
        quantile=0.25,
        calibration_n=32,
        calibration_tolerance=1.5,
    )
    edit.prepare(gen, tmp_path)
    desc = edit.describe()
    assert (
        desc["alpha_source"] == "calibrated"
        and abs(desc["calibration"]["achieved_shift"] - 30) <= 1.5
    )
    assert desc["direction"]["provenance"]["held_out_balanced_accuracy"] >= 0.9
    json.dumps(desc)  # manifest-ready
    seeds = list(range(10))
    base = gen.images_for_seeds(seeds)
    twins = edit.counterfactual(gen, seeds, base)
    assert twins.shape == base.shape and twins.dtype == torch.uint8
    assert (scorer(twins) - scorer(base)).mean() > 15
    # a fresh instance reuses the cached direction and calibration: no scoring at all
    fresh_scorer = Brightness()
    again = LatentEdit(
        "bright",
        scorer=fresh_scorer,
        shift=30.0,
        n_samples=400,
        quantile=0.25,
        calibration_n=32,
        calibration_tolerance=1.5,
    )
    again.prepare(gen, tmp_path)
    assert fresh_scorer.calls == 0 and again.alpha == edit.alpha
    assert torch.equal(again.counterfactual(gen, seeds, base, batch_size=3), twins)
    with pytest.raises(RuntimeError, match="prepare"):
        LatentEdit("x", scorer=scorer).counterfactual(gen, seeds, base)


def test_conditioned_learned_edit(tmp_path):
    gen = ToyGAN(z_dim=8)
    edit = LatentEdit(
        "bright", scorer=Brightness(), condition_on=[GreenLevel()], n_samples=400, quantile=0.25
    )
    edit.condition_on = [GreenLevel()]
    edit.prepare(gen, tmp_path)
    green = learn_direction(gen, GreenLevel(), LearnSettings(n_samples=400, quantile=0.25))
    assert abs(edit.direction.vector @ green.vector) < 1e-10


# -- truncation -----------------------------------------------------------------------------
def test_truncate_matches_nvidia_fixture():
    exp = torch.load(FIXTURE / "expected_outputs.pt", weights_only=True)
    w_avg = torch.load(FIXTURE / "generator_state_dict.pt", weights_only=True)["mapping.w_avg"]
    ws = exp["ws_psi1"]
    torch.testing.assert_close(truncate(ws, w_avg, 0.5), exp["ws_psi0.5"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        truncate(ws, w_avg, 0.7, cutoff=2), exp["ws_psi0.7_cutoff2"], atol=1e-5, rtol=1e-5
    )
    assert torch.equal(truncate(ws, w_avg, 1.0), ws)
    torch.testing.assert_close(truncate(ws, w_avg, 0.0), w_avg.expand_as(ws))


@pytest.mark.parametrize("w_dim", [None, 4])
def test_truncation_intervention_identity_and_collapse(w_dim):
    gen = ToyGAN(z_dim=6, w_dim=w_dim, num_ws=3 if w_dim else None)
    seeds = list(range(6))
    base = gen.images_for_seeds(seeds)
    same = build_intervention("truncation", psi=1.0).counterfactual(gen, seeds, base)
    assert torch.equal(same, base)
    flat = build_intervention("truncation", psi=0.0).counterfactual(gen, seeds, base)
    assert torch.equal(flat, flat[:1].expand_as(flat)) and not torch.equal(
        base, base[:1].expand_as(base)
    )
    centre = (
        gen.images(gen.w_avg[None, None].repeat(1, 3, 1), space="w")
        if w_dim
        else gen.images(torch.zeros(1, 6))
    )
    assert torch.equal(flat[:1], centre)
    with pytest.raises(ValueError, match="psi must be in"):
        build_intervention("truncation", psi=1.5)


# -- verification ---------------------------------------------------------------------------
def _images(n=40, seed=0):
    return torch.from_numpy(
        np.random.RandomState(seed).randint(40, 200, (n, 3, 8, 8)).astype(np.uint8)
    )


def _identity(a, b):
    x = a.double().flatten(1)
    y = b.double().flatten(1)
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    return (torch.nn.functional.cosine_similarity(x, y, dim=1)).numpy()


def test_verification_flags_noop_and_passes_real_edit():
    base = _images()
    scorers = {"brightness": Brightness(), "green": GreenLevel()}
    noop = verify_intervention(base, base.clone(), scorers, "brightness", identity=_identity)
    assert not noop.passed and [f.code for f in noop.flags] == ["target_too_small"]
    assert "brightness" in noop.flags[0].message
    real = base.clone()
    real[:, 0] = (
        (real[:, 0].int() + 30 + torch.randint(0, 5, (40, 1, 1))).clamp(0, 255).to(torch.uint8)
    )
    ok = verify_intervention(base, real, scorers, "brightness", identity=_identity)
    assert ok.passed, ok.flags
    d = Brightness()(real) - Brightness()(base)
    assert ok.target_shift.shift == pytest.approx(d.mean())
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (ok.target_shift.ci_low, ok.target_shift.ci_high) == pytest.approx((lo, hi))
    assert ok.leakage["green"].shift == 0 and ok.identity.mean > 0.9
    json.dumps(ok.to_dict())


def test_verification_flags_leakage_low_identity_and_missing_target():
    base = _images()
    twin = base.clone()
    twin[:, :2] = (twin[:, :2].int() + 40).clamp(0, 255).to(torch.uint8)  # red AND green move
    res = verify_intervention(
        base,
        twin,
        {"brightness": Brightness(), "green": GreenLevel()},
        "brightness",
        identity=lambda a, b: _identity(a, b[torch.randperm(40)]),
    )
    codes = {f.code for f in res.flags}
    assert codes == {"leakage", "low_identity"}
    assert any("green" in f.message for f in res.flags if f.code == "leakage")
    miss = verify_intervention(base, twin, {"green": GreenLevel()}, "gender")
    assert [f.code for f in miss.flags][0] == "target_missing" and "gender" in miss.flags[0].message
    boot = mean_ci(np.arange(50.0), method="bootstrap", n_boot=500, seed=1)
    assert boot[0] < 24.5 < boot[1]
    res_b = verify_intervention(
        base,
        twin,
        {"brightness": Brightness()},
        "brightness",
        thresholds=VerificationConfig(method="bootstrap", n_boot=300),
    )
    assert res_b.passed and res_b.target_shift.method == "bootstrap"


# -- the real StyleGAN2 code on NVIDIA's tiny reference fixture -------------------------------
@pytest.fixture(scope="module")
def tiny_stylegan():
    from generators.stylegan2 import StyleGAN2Faces, StyleGAN2Generator

    meta = json.loads((FIXTURE / "meta.json").read_text())
    net = StyleGAN2Generator(**meta["init_kwargs"])
    net.load_state_dict(torch.load(FIXTURE / "generator_state_dict.pt", weights_only=True))
    gen = StyleGAN2Faces(net)
    exp = torch.load(FIXTURE / "expected_outputs.pt", weights_only=True)
    gen.latents = lambda seeds: exp["z"][list(seeds)]  # the fixture's z for "seeds" 0..3
    return gen, exp


def test_truncation_twins_match_nvidia_images(tiny_stylegan):
    from generators.base import to_uint8

    gen, exp = tiny_stylegan
    seeds = [0, 1, 2, 3]
    base = gen.images_for_seeds(seeds)
    for params, key in [
        ({"psi": 0.5}, "img_psi0.5_const"),
        ({"psi": 0.7, "cutoff": 2}, "img_psi0.7_cutoff2_const"),
    ]:
        twins = build_intervention("truncation", **params).counterfactual(gen, seeds, base)
        assert (twins.int() - to_uint8(exp[key]).int()).abs().max() <= 1


def test_wplus_edit_on_stylegan_matches_fixture_ws(tiny_stylegan, tmp_path):
    from generators.base import to_uint8

    gen, exp = tiny_stylegan
    n = np.random.RandomState(5).randn(64)
    path = tmp_path / "attr_w_boundary.npy"
    np.save(path, n[None])
    seeds = [0, 1, 2, 3]
    base = gen.images_for_seeds(seeds)
    edit = build_intervention(f"direction:{path}", alpha=2.0, layers=[0, 3])
    edit.prepare(gen, tmp_path)
    twins = edit.counterfactual(gen, seeds, base)
    ws = exp["ws_psi1"].clone()
    ws[:, :3] += 2.0 * torch.tensor(n / np.linalg.norm(n), dtype=torch.float32)
    ref = to_uint8(gen.synthesis(ws))
    assert (twins.int() - ref.int()).abs().max() <= 1 and not torch.equal(twins, base)
    zero = build_intervention(f"direction:{path}", alpha=0.0, layers=[0, 3])
    zero.prepare(gen, tmp_path)
    assert torch.equal(zero.counterfactual(gen, seeds, base), base)


def test_score_images_is_the_one_scorer_call():
    """Chunked scoring gives the scores of one call, keeps NaN (an unscorable image), checks
    the count, and is the function the rank run uses."""
    import torch

    from counterfactual.interventions.directions import score_images
    from counterfactual.rank import explained

    calls = []

    def scorer(images: torch.Tensor) -> torch.Tensor:
        calls.append(len(images))
        s = images.float().mean(dim=(1, 2, 3))
        return torch.where(images[:, 0, 0, 0] == 0, torch.nan, s)  # 0 in a corner: unscorable

    images = torch.randint(1, 255, (150, 3, 4, 4), dtype=torch.uint8)
    images[7, 0, 0, 0] = 0
    scores = score_images(scorer, images)
    assert calls == [64, 64, 22] and scores.dtype == np.float64
    whole = images.double().mean(dim=(1, 2, 3)).numpy()
    assert np.isnan(scores[7]) and np.array_equal(np.isnan(scores), np.arange(150) == 7)
    np.testing.assert_allclose(np.delete(scores, 7), np.delete(whole, 7), rtol=1e-6)
    with pytest.raises(ValueError, match=r"scorer 'age' returned 1 scores for 5 images of set 'g'"):
        score_images(lambda x: np.zeros(1), images[:5], "age", "g")
    assert explained.score_images is score_images
