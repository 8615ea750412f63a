"""FD attention maps (counterfactual.attention): the FD gradient against finite differences and
the optimal-transport closed form, Grad-CAM weights, region shares on planted maps, and the
behaviour: a pasted square draws the twin map's heat (tiny random network; real Inception
with the synthetic hat and the whole command in the slow test)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from counterfactual.attention.gradcam import (
    SpatialNet,
    channel_weights,
    gradcam,
    heat_maps,
    to_image_heat,
)
from counterfactual.attention.gradient import fd_gradient
from counterfactual.attention.regions import (
    CHANGED,
    SHARE_REGIONS,
    changed_mask,
    parsing_region_masks,
    region_shares,
)
from counterfactual.errors import UserError
from counterfactual.metrics import frechet_distance_features
from extractors.face.parsing import CLASS_INDEX


def _fd(a: np.ndarray, b: np.ndarray) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return frechet_distance_features(a, b).value


def _numeric_gradient(a: np.ndarray, b: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(b)
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            up, down = b.copy(), b.copy()
            up[i, j] += h
            down[i, j] -= h
            out[i, j] = (_fd(a, up) - _fd(a, down)) / (2 * h)
    return out


@pytest.mark.parametrize("n_a,n_b,d", [(40, 30, 5), (8, 6, 20)])  # full rank; n <= d
def test_fd_gradient_equals_finite_differences(n_a, n_b, d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(n_a, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(n_b, d)) @ rng.normal(size=(d, d)) + 0.5
    g = fd_gradient(a, b)
    num = _numeric_gradient(a, b)
    assert g.shape == b.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, num, atol=1e-6 * np.abs(num).max())


def test_fd_gradient_is_the_transport_map_form_at_full_rank():
    """dFD/db_i = 2/n (mu_B - mu_A) + 2/(n-1) (I - T) c_i, T the OT map from N(S_B) to N(S_A)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 4)) * [1, 2, 3, 4], rng.normal(size=(40, 4)) + 1.0
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(sa))
    t = root @ np.linalg.inv(np.real(scipy.linalg.sqrtm(root @ sb @ root))) @ root
    c = b - b.mean(0)
    n = len(b)
    expected = 2 / n * (b.mean(0) - a.mean(0)) + 2 / (n - 1) * c @ (np.eye(4) - t)
    np.testing.assert_allclose(fd_gradient(a, b), expected, rtol=1e-8, atol=1e-10)


def test_fd_gradient_refuses_bad_input():
    with pytest.raises(ValueError, match="features"):
        fd_gradient(np.zeros((5, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError):
        fd_gradient(np.zeros((5, 3)), np.zeros((5, 4)))


class TinyNet(nn.Module):
    """A random conv net whose features are the spatial mean of its last block (as pool3)."""

    def __init__(self, seed: int = 0, width: int = 12) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1), nn.ReLU()
        )
        self.last = nn.Sequential(
            nn.Conv2d(width, 12 if width == 12 else width, 3, 2, 1), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.body(x)).mean(dim=(2, 3))


def _tiny(seed: int = 0, width: int = 12) -> SpatialNet:
    return SpatialNet(lambda images: images.float() / 127.5 - 1.0, TinyNet(seed, width), "last")


def test_gradcam_weights_are_the_fd_gradient_of_the_pooled_feature(one_torch_thread):
    """Spatial mean of dFD/dA = dFD/df / (h w), with dFD/df checked by finite differences."""
    rng = np.random.default_rng(0)
    net = _tiny()
    images = torch.from_numpy(rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8))
    acts, feats = net(images)
    assert acts.shape == (6, 12, 4, 4)
    f = feats.detach().double().numpy()
    reference = rng.normal(size=(20, 12)) * f.std(0) + f.mean(0)
    g = fd_gradient(reference, f)
    np.testing.assert_allclose(g, _numeric_gradient(reference, f), atol=1e-6 * np.abs(g).max())
    weights = channel_weights(acts, feats, g).numpy()
    np.testing.assert_allclose(weights * 16, g, rtol=1e-5, atol=1e-7 * np.abs(g).max())
    cams = gradcam(acts, feats, g)
    manual = np.maximum(np.einsum("nc,nchw->nhw", g / 16, acts.detach().double().numpy()), 0)
    np.testing.assert_allclose(cams.numpy(), manual, rtol=1e-5, atol=1e-9)


def test_heat_is_upsampled_and_normalised_per_image():
    cams = torch.zeros((2, 4, 4), dtype=torch.float64)
    cams[0, 0, 0] = 3.0
    heat = to_image_heat(cams, (16, 16))
    assert heat.shape == (2, 16, 16)
    assert heat[0].sum() == pytest.approx(1.0) and heat[1].sum() == 0.0  # empty stays empty
    assert heat[0, :4, :4].min() > 0 and heat[0, 6:].sum() == 0 and heat[0, :, 6:].sum() == 0
    assert np.all(np.diff(heat[0, 2, 2:6]) < 0)  # falls off bilinearly


def test_region_shares_of_a_planted_map():
    """Heat planted 70% in the hair (top quarter), 30% in the skin: shares and areas follow."""
    labels = np.full((2, 16, 16), CLASS_INDEX["background"])
    labels[:, :4] = CLASS_INDEX["hair"]
    labels[:, 8:12, 4:12] = CLASS_INDEX["skin"]
    labels[:, 14:] = CLASS_INDEX["cloth"]  # in no region: "other"
    masks = parsing_region_masks(labels, (32, 32))
    assert set(masks) == set(SHARE_REGIONS)
    assert np.all(sum(m.astype(int) for m in masks.values()) == 1)  # a partition
    heat = np.zeros((2, 32, 32))
    heat[:, :8] = 0.7 / (8 * 32)
    heat[:, 16:24, 8:24] = 0.3 / (8 * 16)
    shares = region_shares(heat, masks)
    assert shares["hair"]["share"] == pytest.approx(0.7)
    assert shares["skin"]["share"] == pytest.approx(0.3)
    assert shares["background"]["share"] == pytest.approx(0.0, abs=1e-12)
    assert shares["hair"]["area"] == pytest.approx(0.25)
    assert shares["other"]["area"] == pytest.approx(2 / 16)
    assert sum(s["share"] for s in shares.values()) == pytest.approx(1.0)
    heat[1] = 0.0  # an empty map is left out
    assert region_shares(heat, masks)["hair"]["n"] == 1
    with pytest.raises(ValueError, match="normalised"):
        region_shares(heat * 2, masks)


def test_changed_mask_marks_the_edited_pixels():
    base = np.zeros((1, 3, 8, 8), np.uint8)
    twin = base.copy()
    twin[0, 1, 2:4, 5:7] = 200
    twin[0, 0, 0, 0] = 5  # below the level: unchanged
    mask = changed_mask(base, twin)
    assert mask.sum() == 4 and mask[0, 2:4, 5:7].all()


def test_a_pasted_square_draws_the_twin_maps_heat(one_torch_thread):
    """Behaviour: twins = base faces with a filled square pasted at a fixed place; the map of
    FD(reference, twins) puts more heat inside the square than its area share, and more than
    the control map (FD(reference, the unedited faces)) does."""
    from helpers.faces import dcgan_faces

    faces = dcgan_faces(range(48))
    reference, base = faces[:32], faces[32:]
    twins = base.clone()
    twins[:, :, 8:24, 36:52] = torch.tensor([255, 0, 255], dtype=torch.uint8)[:, None, None]
    square = np.zeros((64, 64), bool)
    square[8:24, 36:52] = True
    area = square.mean()
    for seed in (0, 1, 3):  # three random networks
        net = _tiny(seed, width=32)
        ref_feats = net(reference)[1].detach().numpy()
        shares = {}
        for name, images in (("twin", twins), ("control", base)):
            feats = net(images)[1].detach().numpy()
            heat = heat_maps(net, images, fd_gradient(ref_feats, feats), feats, batch_size=8).heat
            shares[name] = region_shares(heat, {CHANGED: np.broadcast_to(square, heat.shape)})[
                CHANGED
            ]
        assert shares["twin"]["share"] > 2 * area, seed
        assert shares["twin"]["share"] > 2 * shares["control"]["share"], seed


def test_heat_maps_refuse_features_that_are_not_the_runs(one_torch_thread):
    net = _tiny()
    images = torch.zeros((2, 3, 16, 16), dtype=torch.uint8)
    feats = net(images)[1].detach().numpy()
    with pytest.raises(UserError, match="not the run's"):
        heat_maps(net, images, np.ones_like(feats), feats * 1.5 + 1.0)


def test_attention_config_shorthand_identity_and_spaces():
    from counterfactual.config import ConfigError, SweepConfig, validate_model

    base = {
        "seeds": {"count": 8},
        "pairs_per_draw": 4,
        "spaces": ["inception-fid", "gender-classifier"],
        "interventions": ["hat_occluder"],
    }
    off = validate_model(SweepConfig, base)
    on = validate_model(SweepConfig, {**base, "attention": True})
    assert not off.attention.enabled and on.attention.enabled
    assert on.identity() == off.identity()  # maps never change the run's tables
    with pytest.raises(ConfigError, match="no attention map"):
        validate_model(
            SweepConfig,
            {**base, "attention": {"enabled": True, "spaces": ["gender-classifier"]}},
        )
    with pytest.raises(ConfigError, match="not one of the sweep's spaces"):
        validate_model(SweepConfig, {**base, "attention": {"spaces": ["random-inception"]}})


def test_choose_spaces_names_why_a_space_has_no_map():
    from counterfactual.attention.engine import choose_spaces

    chosen, skipped = choose_spaces(["inception-fid", "arcface", "age-classifier"], None)
    assert chosen == ["inception-fid", "arcface"] and "onnx2torch" in skipped["age-classifier"]
    with pytest.raises(UserError, match="age-classifier: no attention map"):
        choose_spaces(["inception-fid", "age-classifier"], ["age-classifier"])
    with pytest.raises(UserError, match="no space of this run"):
        choose_spaces(["age-classifier"], None)


@pytest.mark.slow
def test_inception_attention_of_the_synthetic_hat_end_to_end(tmp_path):
    """The acceptance check's shape: a sweep with the pasted hat in inception-fid, then
    `counterfactual attention`: the twin map puts more heat where the hat changed the faces
    than the changed area and than the control; the report shows the section."""
    import pandas as pd

    from counterfactual.cli import main
    from counterfactual.report import build_report

    config = tmp_path / "hat.toml"
    config.write_text(
        'generator = "dcgan-digiface"\nseeds = {start = 0, count = 32}\n'
        "pairs_per_draw = 16\ndraws = 1\ndeltas = [0.0, 1.0]\n"
        'spaces = ["inception-fid"]\ninterventions = ["hat_occluder"]\n'
        "[verification]\nscorers = []\nidentity = false\n"
    )
    out = tmp_path / "run"
    assert main(["sweep", str(config), "--out", str(out), "--no-progress"]) == 0
    assert main(["attention", str(out), "--n", "12", "--no-progress"]) == 0
    table = pd.read_csv(out / "report_tables" / "attention.csv")
    changed = table[table["region"] == CHANGED].set_index("set")
    assert changed.loc["twin", "share"] > 1.5 * changed.loc["twin", "area"]
    assert changed.loc["twin", "share"] > 1.5 * changed.loc["control", "share"]
    assert set(table["n"]) == {12}
    html = build_report(out, n_boot=20, permutations=19).read_text()
    assert 'id="attention"' in html and "arcface" not in html.split('id="attention"')[1][:200]
    assert main(["attention", str(out), "--n", "12", "--no-progress"]) == 0  # up to date: no-op


def test_sweep_option_runs_the_maps_after_the_sweep(monkeypatch, tmp_path):
    """`attention = true` calls run_attention on the run directory after the sweep (also when
    the run was already complete); off by default it is not called."""
    import counterfactual.attention.engine as engine
    from counterfactual.config import SweepConfig, validate_model
    from counterfactual.sweep import executor

    calls = []
    monkeypatch.setattr(
        executor, "run_engine", lambda *a, **k: executor.SweepResult(tmp_path, "already complete")
    )
    monkeypatch.setattr(engine, "run_attention", lambda out, **k: calls.append((out, k)))
    base = {
        "seeds": {"count": 8},
        "pairs_per_draw": 4,
        "spaces": ["inception-fid"],
        "interventions": ["hat_occluder"],
    }
    executor.run_sweep(validate_model(SweepConfig, base), tmp_path, log=lambda _: None)
    assert calls == []
    cfg = validate_model(SweepConfig, {**base, "attention": {"enabled": True, "n": 6}})
    executor.run_sweep(cfg, tmp_path, log=lambda _: None)
    assert calls and calls[0][0] == str(tmp_path) and calls[0][1]["n"] == 6
