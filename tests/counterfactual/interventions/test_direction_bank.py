"""Direction bank: resumable chunked sampling, per-attribute boundaries recover planted
directions, conditioning, shipped-bank lookup and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from counterfactual.errors import UserError
from counterfactual.interventions.bank import (
    fit_bank,
    load_samples,
    parse_conditions,
    sample_bank,
    shipped_direction,
)
from extractors.scorers import Scorer, register_scorer
from helpers.intervention_standins import ToyGAN
from helpers.registries import registered


class _Red(Scorer):
    """Mean red level: tanh(1.5 w . n_true) through the toy generator (a planted truth)."""

    name = "toy_red"

    def __call__(self, images, *args):
        return images[:, 0].double().mean(dim=(1, 2)).numpy()


class _Rare(Scorer):
    """A rare attribute: red level above its 90th percentile of a standard face, else 0."""

    name = "toy_rare"
    labelling = {"rule": "threshold", "threshold": 200.0}

    def __call__(self, images, *args):
        red = images[:, 0].double().mean(dim=(1, 2)).numpy()
        return np.where(red > 200.0, red, 0.0)


class _Counting(Scorer):
    name = "toy_count"
    calls = 0

    def __call__(self, images, *args):
        type(self).calls += len(images)
        return images[:, 1].double().mean(dim=(1, 2)).numpy()


@pytest.fixture()
def toy_scorers():
    def register() -> None:
        for name, cls in {"toy_red": _Red, "toy_rare": _Rare, "toy_count": _Counting}.items():
            register_scorer(name, cls)

    with registered(register):
        yield


def test_bank_recovers_planted_direction_and_rare_attribute(tmp_path, toy_scorers):
    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    sample_bank(gen, ["toy_red", "toy_rare"], tmp_path, n_samples=800, chunk=64, progress=False)
    summary = fit_bank(tmp_path)
    assert summary["n_samples"] == 800
    red = summary["attributes"]["toy_red"]
    assert red["held_out_balanced_accuracy"] >= 0.9 and red["held_out_auc"] >= 0.95
    rare = summary["attributes"]["toy_rare"]
    assert rare["labelling"]["rule"] == "threshold"
    assert rare["n_positive"] < rare["n_negative"]  # class-balanced fit of a rare class
    n_true = gen.n_true.double().numpy()
    for name in ("toy_red", "toy_rare"):
        vec = np.load(tmp_path / f"{name}.npy")[0]
        assert float(vec @ n_true) > 0.9, name
        meta = json.loads((tmp_path / f"{name}.json").read_text())
        assert meta["n_samples"] == 800 and meta["space"] == "w"


def test_bank_sampling_resumes_and_extends(tmp_path, toy_scorers):
    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    _Counting.calls = 0
    assert sample_bank(gen, ["toy_count"], tmp_path, n_samples=100, chunk=32, progress=False) == 4
    assert _Counting.calls == 100
    first = load_samples(tmp_path)
    (tmp_path / "samples" / f"{2_000_000_032}+32.npz").unlink()  # an interrupted chunk
    assert sample_bank(gen, ["toy_count"], tmp_path, n_samples=100, chunk=32, progress=False) == 1
    assert _Counting.calls == 132  # only the missing chunk was scored again
    again = load_samples(tmp_path)
    np.testing.assert_array_equal(again.codes, first.codes)
    np.testing.assert_array_equal(again.scores["toy_count"], first.scores["toy_count"])
    sample_bank(gen, ["toy_count"], tmp_path, n_samples=160, chunk=32, progress=False)
    grown = load_samples(tmp_path)
    assert grown.n == 160
    np.testing.assert_array_equal(grown.seeds, np.arange(2_000_000_000, 2_000_000_160))
    # codes are the generator's w of each seed, whatever the chunking
    w = gen.mapping(gen.latents(range(2_000_000_000, 2_000_000_160)))[:, 0]
    np.testing.assert_allclose(grown.codes, w.double().numpy(), rtol=0, atol=1e-6)


def test_bank_refuses_another_generator_or_chunking(tmp_path, toy_scorers):
    sample_bank(ToyGAN(8, 6, 2), ["toy_count"], tmp_path, n_samples=40, chunk=20, progress=False)
    with pytest.raises(UserError, match="another generator"):
        sample_bank(ToyGAN(8, 5, 2), ["toy_count"], tmp_path, 40, progress=False)
    with pytest.raises(UserError, match="chunks of 20"):
        sample_bank(ToyGAN(8, 6, 2), ["toy_count"], tmp_path, 40, chunk=10, progress=False)
    (tmp_path / "samples" / f"{2_000_000_000}+20.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="unreadable sample chunk"):
        load_samples(tmp_path)
    with pytest.raises(UserError, match="no scores for 'gender'"):
        (tmp_path / "samples" / f"{2_000_000_000}+20.npz").unlink()
        fit_bank(tmp_path, ["gender"])


def test_conditioned_bank_direction_is_orthogonal(tmp_path, toy_scorers):
    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    sample_bank(gen, ["toy_red", "toy_count"], tmp_path, n_samples=400, chunk=100, progress=False)
    summary = fit_bank(tmp_path, conditions=parse_conditions(["toy_red:toy_count"]))
    red = np.load(tmp_path / "toy_red.npy")[0]
    count = np.load(tmp_path / "toy_count.npy")[0]
    assert abs(float(red @ count)) < 1e-10
    assert summary["attributes"]["toy_red"]["conditioned_on"] == ["toy_count"]
    meta = json.loads((tmp_path / "toy_red.json").read_text())
    assert meta["conditioned_on"][0]["scorer"] == "toy_count"  # condition_direction's record
    assert abs(meta["conditioned_on"][0]["cosine_conditioned"]) < 1e-10
    with pytest.raises(UserError, match="ATTRIBUTE:OTHER"):
        parse_conditions(["toy_red"])


def test_shipped_direction_lookup(tmp_path, toy_scorers):
    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    assert shipped_direction(gen, "toy_red") is None  # the toy ships no bank
    sample_bank(gen, ["toy_red"], tmp_path, n_samples=200, chunk=100, progress=False)
    fit_bank(tmp_path)
    gen.direction_bank = tmp_path
    d = shipped_direction(gen, "toy_red")
    assert d is not None and d.space == "w"
    np.testing.assert_array_equal(d.vector, np.load(tmp_path / "toy_red.npy")[0])
    assert shipped_direction(gen, "gender") is None


def test_attribute_edit_uses_the_shipped_bank_unless_relearn(tmp_path, toy_scorers):
    from counterfactual.interventions.attributes import LatentEdit

    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    bank = tmp_path / "bank"
    sample_bank(gen, ["toy_red"], bank, n_samples=200, chunk=100, progress=False)
    fit_bank(bank)
    gen.direction_bank = bank
    calls = len(gen.image_calls)
    edit = LatentEdit("red", scorer="toy_red", alpha=1.0)
    edit.prepare(gen, tmp_path / "work")
    assert len(gen.image_calls) == calls  # nothing generated: the bank's direction
    np.testing.assert_array_equal(edit.direction.vector, np.load(bank / "toy_red.npy")[0])
    assert edit.direction.provenance["source"].startswith("direction bank")
    fresh = LatentEdit("red", scorer="toy_red", alpha=1.0, relearn=True, n_samples=300)
    fresh.prepare(gen, tmp_path / "work")
    assert fresh.direction.provenance["n_samples"] == 300
    assert fresh.direction.provenance["source"].startswith("learned")


def test_strength_sd_scales_alpha_by_the_projection_sd(tmp_path, toy_scorers):
    from counterfactual.interventions.attributes import LatentEdit

    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    bank = tmp_path / "bank"
    sample_bank(gen, ["toy_red", "toy_count"], bank, n_samples=300, chunk=100, progress=False)
    fit_bank(bank, conditions={"toy_red": ["toy_count"]})
    gen.direction_bank = bank
    edit = LatentEdit("red", scorer="toy_red", strength_sd=2.0)
    assert edit.describe()["alpha"] is None  # unknown until the direction is loaded
    edit.prepare(gen, tmp_path / "work")
    samples = load_samples(bank)
    sd = float((samples.codes @ edit.direction.vector).std(ddof=1))  # of the final direction
    assert edit.alpha == pytest.approx(2.0 * sd, rel=1e-12)
    assert edit.describe()["alpha_source"] == "strength_sd x projection SD"
    with pytest.raises(ValueError, match="one of alpha, shift, strength_sd and level_sd"):
        LatentEdit("red", scorer="toy_red", strength_sd=2.0, alpha=1.0)


def test_level_edit_raises_each_face_to_the_level_and_no_further(tmp_path, toy_scorers):
    """do(attribute >= level): a face below the level moves exactly onto it, a face above it is
    untouched (its twin is its own image), per face whatever the batch."""
    import torch

    from counterfactual.interventions.attributes import LatentEdit
    from counterfactual.interventions.latent import level_alphas

    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    bank = tmp_path / "bank"
    sample_bank(gen, ["toy_red"], bank, n_samples=200, chunk=100, progress=False)
    fit_bank(bank)
    gen.direction_bank = bank
    edit = LatentEdit("red", scorer="toy_red", level_sd=0.5)
    edit.prepare(gen, tmp_path / "work")
    n = edit.direction.vector
    population = gen.mapping(gen.latents(range(2_000_000_000, 2_000_000_200)))[:, 0]
    projection = population.double().numpy() @ n  # the bank's 200 learning samples
    assert edit.level_centre == pytest.approx(projection.mean(), rel=1e-9, abs=1e-9)
    sd = float(projection.std(ddof=1))
    assert edit.level_scale == pytest.approx(sd, rel=1e-9)
    assert sd == pytest.approx(edit.direction.provenance["projection_sd"], rel=1e-6)
    assert edit.level() == pytest.approx(projection.mean() + 0.5 * sd, rel=1e-9)
    # alpha: the mean step over the learning samples (0 for those above the level)
    steps = np.maximum(0.0, edit.level() - projection)
    assert edit.alpha == pytest.approx(steps.mean(), rel=1e-9)

    seeds = list(range(40))
    w = gen.mapping(gen.latents(seeds))[:, 0].double().numpy()
    projection = w @ n
    assert (projection < edit.level()).any() and (projection >= edit.level()).any()
    alphas = level_alphas(w, n, edit.level())
    np.testing.assert_allclose(
        (w + alphas[:, None] * n) @ n, np.maximum(projection, edit.level()), atol=1e-12
    )
    base = gen.images(gen.latents(seeds), space="z")
    twins = edit.counterfactual(gen, seeds, base)
    above = projection >= edit.level()
    assert torch.equal(twins[above], base[above])  # already there: unchanged
    assert not torch.equal(twins[~above], base[~above])
    one_by_one = torch.cat(
        [edit.counterfactual(gen, [s], base[i : i + 1]) for i, s in enumerate(seeds)]
    )
    assert torch.equal(one_by_one, twins)  # per face, not per batch
    described = edit.describe()
    assert described["level_sd"] == 0.5 and described["level_centre"] == edit.level_centre
    assert described["alpha"] == pytest.approx(steps.mean())
    assert "level_sd" not in LatentEdit("red", scorer="toy_red", alpha=1.0).describe()
    with pytest.raises(ValueError, match="level_sd"):
        LatentEdit("red", scorer="toy_red", level_sd=1.0, strength_sd=1.0)


def test_conditioned_edit_rescales_strength_sd_to_the_final_direction(tmp_path, toy_scorers):
    """Conditioning at prepare time: strength_sd's unit is the SD of the samples' projections
    on the conditioned direction, not the raw one's (kept as projection_sd_raw)."""
    from counterfactual.interventions.attributes import LatentEdit

    gen = ToyGAN(z_dim=8, w_dim=6, num_ws=2)
    edit = LatentEdit(
        "red",
        scorer="toy_red",
        strength_sd=1.0,
        condition_on=["toy_count"],
        n_samples=300,
        relearn=True,
    )
    edit.prepare(gen, tmp_path / "work")
    prov = edit.direction.provenance
    codes = gen.mapping(gen.latents(range(2_000_000_000, 2_000_000_300)))[:, 0].double().numpy()
    final_sd = float((codes @ edit.direction.vector).std(ddof=1))
    assert prov["projection_sd"] == pytest.approx(final_sd, rel=1e-9)
    assert prov["projection_sd_raw"] != pytest.approx(final_sd, rel=1e-3)
    assert edit.alpha == pytest.approx(final_sd, rel=1e-9)
