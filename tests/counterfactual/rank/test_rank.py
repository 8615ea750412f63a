"""Generator ranking: config validation, and the engine on sample folders with a known order.

Construction: a reference folder of noise images and four generator folders whose red
channel is brightened by 0, 30, 60, 90 and whose blue channel by 90, 60, 30, 0. A feature
space that sees only the red channel must rank them 0 < 30 < 60 < 90 by FD; one that sees
only blue must rank them in reverse (Kendall tau -1 between the two spaces).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy import linalg, stats
from scipy.spatial.distance import cdist

from counterfactual.cli import main
from counterfactual.config import ConfigError
from counterfactual.engine.components import Components
from counterfactual.rank import load_rank_config, run_rank, validate_rank_config
from counterfactual.rank.sets import image_sets
from counterfactual.run import RunDir
from extractors import scorers as scorers_mod
from extractors.base import FeatureExtractor
from extractors.runtime.cache import FeatureCache, feature_key
from helpers.rank_sets import (
    N_GEN,
    N_REF,
    RES,
    SHIFTS,
    config_text,
    load_blue,
    load_red,
)

pytestmark = pytest.mark.usefixtures("toy_rank_spaces")


def _table(run: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / "tables" / f"{name}.parquet")


# ---- config ---------------------------------------------------------------------------------
def test_config_forms_and_defaults(folders):
    cfg = validate_rank_config(
        {
            "seeds": {"start": 0, "count": 20},
            "spaces": ["toy-red"],
            "generators": ["dcgan-digiface", {"spec": "dcgan-digiface", "truncation_psi": 0.7}],
            "reference": {"spec": f"folder:{folders['ref']}", "seeds": [0, 1, 2, 3, 4, 5]},
        }
    )
    assert [g.key for g in cfg.generators] == ["dcgan-digiface", "dcgan-digiface@psi=0.7"]
    assert cfg.reference.is_real and cfg.seeds_of(cfg.reference) == [0, 1, 2, 3, 4, 5]
    assert cfg.metrics.n_boot == 200 and cfg.metrics.pr_k == 3
    sets = image_sets(cfg)
    assert [s.role for s in sets] == ["reference", "generator", "generator"]
    assert sets[2].generation_kwargs() == {"truncation_psi": 0.7}
    assert sets[1].generation_kwargs() == {}
    assert "device" not in cfg.identity() and cfg.identity()["seed"] == 0
    ex = cfg.explained
    assert ex.enabled is False and ex.scorers == ("gender", "age") and ex.n_boot == 200
    assert ex.method == "weighted" and ex.threshold_map() == {"gender": 0.5, "age": 40.0}


@pytest.mark.parametrize(
    "data, needles",
    [
        ({"n_boots": 3}, ["'n_boots'", "unknown key", "seeds", "generators", "metrics"]),
        ({"metrics": {"nboot": 3}}, ["'metrics.nboot'", "n_boot", "pr_k", "kid_subsets"]),
        (
            {"generators": [{"spec": "dcgan-digiface", "psi": 0.5}]},
            ["'generators[0].psi'", "truncation_psi", "truncation_cutoff"],
        ),
        (
            {
                "generators": [
                    "dcgan-digiface",
                    {"spec": "dcgan-digiface", "id": "b", "seeds": {"count": 10}},
                ]
            },
            ["same number of images", "dcgan-digiface: 20", "b: 10"],
        ),
        (
            {"reference": {"spec": "dcgan-digiface", "seeds": {"start": 15, "count": 20}}},
            ["overlap", "disjoint seed range"],
        ),
        (
            {"generators": [{"spec": "folder:/x", "truncation_psi": 0.5}]},
            ["sample folder", "truncation_psi"],
        ),
        ({"generators": ["nosuchgen:x"]}, ["unknown generator", "allowed schemes"]),
        ({"spaces": ["no-such-space"]}, ["unknown feature space", "toy-red"]),
        (
            {
                "reference": {
                    "spec": "dcgan-digiface",
                    "real": True,
                    "seeds": {"start": 99, "count": 5},
                }
            },
            ["cannot be real"],
        ),
        ({"metrics": {"pr_k": 25}}, ["metrics.pr_k = 25", "20"]),
        ({"generators": ["dcgan-digiface", "dcgan-digiface"]}, ["duplicate generator"]),
        (
            {"explained": {"nboot": 3}},
            ["'explained.nboot'", "unknown key", "n_boot", "scorers", "thresholds", "method"],
        ),
        ({"explained": {"scorers": ["gender", "smile"]}}, ["no threshold", "smile"]),
        ({"explained": {"thresholds": {"hat": 0.5}}}, ["hat", "not among the scorers"]),
        ({"explained": {"method": "magic"}}, ["explained.method", "weighted", "resample"]),
    ],
)
def test_config_errors_name_key_and_allowed_values(data, needles):
    base = {
        "seeds": {"start": 0, "count": 20},
        "spaces": ["toy-red"],
        "generators": ["dcgan-digiface"],
        "reference": {"spec": "dcgan-digiface", "seeds": {"start": 1000, "count": 20}},
    }
    base.update(data)
    with pytest.raises(ConfigError) as info:
        validate_rank_config(base)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_load_rank_config_reports_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rank_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_rank_config(bad)


# ---- the engine -----------------------------------------------------------------------------
def test_fd_ranks_follow_the_construction(rank_run):
    rankings = _table(rank_run, "rankings")
    fd = rankings[rankings["metric"] == "fd"]
    red = fd[fd["space"] == "toy-red"].set_index("generator")["rank"]
    blue = fd[fd["space"] == "toy-blue"].set_index("generator")["rank"]
    assert red.to_dict() == {"g0": 1, "g30": 2, "g60": 3, "g90": 4}
    assert blue.to_dict() == {"g0": 4, "g30": 3, "g60": 2, "g90": 1}
    # every metric has a ranking in every space, for every generator
    assert set(rankings["metric"]) == {"fd", "kid", "precision", "recall", "density", "coverage"}
    assert len(rankings) == 6 * 2 * len(SHIFTS)
    # the untrained space keeps its label in every table
    for name in ("rank_metrics", "rankings"):
        t = _table(rank_run, name)
        assert set(t.loc[t["space"] == "toy-blue", "space_label"]) == {"toy-blue (untrained)"}
        assert not t.loc[t["space"] == "toy-blue", "trained"].any()


def test_kendall_tau_matrix(rank_run):
    tau = _table(rank_run, "kendall_tau")
    rankings = _table(rank_run, "rankings")
    for metric, part in tau.groupby("metric"):
        m = part.pivot(index="space_a", columns="space_b", values="tau")
        assert m.shape == (2, 2)
        vals = m.to_numpy()
        finite = np.isfinite(vals)
        np.testing.assert_allclose(vals[finite], vals.T[finite])  # symmetric
        for s in m.index:  # unit diagonal
            if np.isfinite(m.loc[s, s]):
                assert m.loc[s, s] == pytest.approx(1.0)
        r = rankings[rankings["metric"] == metric]
        ra = r[r["space"] == "toy-red"].set_index("generator").loc[list(SHIFTS), "rank"]
        rb = r[r["space"] == "toy-blue"].set_index("generator").loc[list(SHIFTS), "rank"]
        if ra.nunique() > 1 and rb.nunique() > 1:
            expected = stats.kendalltau(ra.to_numpy(), rb.to_numpy())
            assert m.loc["toy-red", "toy-blue"] == pytest.approx(expected.statistic)
            row = part[(part["space_a"] == "toy-red") & (part["space_b"] == "toy-blue")]
            assert row["p_value"].iloc[0] == pytest.approx(expected.pvalue)
    fd = tau[tau["metric"] == "fd"].pivot(index="space_a", columns="space_b", values="tau")
    assert fd.loc["toy-red", "toy-blue"] == pytest.approx(-1.0)


def test_rank_stability_from_the_bootstrap_replicates(rank_run):
    rankings = _table(rank_run, "rankings")
    assert rankings["stability"].between(0, 1).all()
    assert (rankings["rank_ci_low"] <= rankings["rank_ci_high"]).all()
    # recompute FD stability from the stored replicates with an independent ranking
    for space in ("toy-red", "toy-blue"):
        reps = np.array(
            [
                json.loads(RunDir(rank_run).stats_path(f"stats/{g}/{space}").read_text())[
                    "replicates"
                ]["fd"]
                for g in SHIFTS
            ]
        )  # [G, B]
        order = np.argsort(np.argsort(reps, axis=0), axis=0) + 1  # no ties here
        fd = rankings[(rankings["metric"] == "fd") & (rankings["space"] == space)]
        fd = fd.set_index("generator").loc[list(SHIFTS)]
        expected = (order == fd["rank"].to_numpy()[:, None]).mean(axis=1)
        np.testing.assert_allclose(fd["stability"].to_numpy(), expected)
        assert fd["n_boot"].iloc[0] == reps.shape[1] == 40


def _cached(run: Path, spec_folder: Path, n: int, extractor: FeatureExtractor) -> np.ndarray:
    manifest = json.loads((run / "manifest.json").read_text())
    desc = next(
        v["generator"]
        for v in manifest["sets"].values()
        if v["generator"]["path"] == str(spec_folder)
    )
    identity = {
        "generator": desc,
        "seeds": list(range(n)),
        "truncation_psi": 1.0,
        "truncation_cutoff": None,
    }
    feats = FeatureCache(run / "features").get(feature_key(identity, extractor.describe()))
    assert feats is not None
    return feats.astype(np.float64)


def test_metrics_match_independent_references(rank_run, folders):
    metrics = _table(rank_run, "rank_metrics")
    space = load_red()
    ref = _cached(rank_run, folders["ref"], N_REF, space)
    gen = _cached(rank_run, folders["g30"], N_GEN, space)
    row = metrics[(metrics["generator"] == "g30") & (metrics["space"] == "toy-red")].iloc[0]
    # FD: the textbook formula with scipy's sqrtm
    s1, s2 = np.cov(ref, rowvar=False), np.cov(gen, rowvar=False)
    fd = ((ref.mean(0) - gen.mean(0)) ** 2).sum() + np.trace(
        s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real
    )
    assert row["fd"] == pytest.approx(fd, rel=1e-6)
    # KID: n_ref != n_gen, so the configured number of random subsets is drawn
    assert row["kid_subsets"] == 10
    # precision / recall with brute-force k-NN balls (k = 3, self excluded)
    d_rr, d_gg, d_rg = cdist(ref, ref), cdist(gen, gen), cdist(ref, gen)
    r_ref = np.sort(d_rr, axis=1)[:, 3]
    r_gen = np.sort(d_gg, axis=1)[:, 3]
    precision = np.mean((d_rg <= r_ref[:, None]).any(axis=0))
    recall = np.mean((d_rg <= r_gen[None, :]).any(axis=1))
    assert row["precision"] == pytest.approx(precision)
    assert row["recall"] == pytest.approx(recall)
    # intervals bracket the estimate and stay in range; the raw percentile interval is kept
    for m in ("fd", "kid", "precision", "recall", "density", "coverage"):
        assert row[f"{m}_ci_low"] <= row[m] + 1e-12 <= row[f"{m}_ci_high"] + 2e-12
        assert np.isfinite(row[f"{m}_pct_low"]) and row[f"{m}_se"] >= 0
    for m in ("precision", "recall", "coverage"):
        assert 0 <= row[f"{m}_ci_low"] <= row[f"{m}_ci_high"] <= 1
    assert row["n_generator"] == N_GEN and row["n_reference"] == N_REF


def test_kid_uses_one_subset_when_it_is_the_whole_set(tmp_path, folders):
    from counterfactual.rank.compare import Settings, compare

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), rng.normal(0.5, 1, size=(20, 4))
    s = Settings(n_boot=5, ci=0.9, seed=1, pr_k=3, dc_k=3, kid_subsets=50, kid_subset_size=100)
    out = compare(x, y, s)
    assert out["kid_subsets"] == 1
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (20 * 19) - 2 * kxy.mean()
    assert out["point"]["kid"] == pytest.approx(mmd)
    assert len(out["replicates"]["fd"]) == 5


def test_outputs_manifest_and_samples(rank_run):
    for name in ("rank_metrics", "rankings", "kendall_tau"):
        for ext in ("csv", "json", "parquet"):
            assert (rank_run / "tables" / f"{name}.{ext}").is_file()
    m = json.loads((rank_run / "manifest.json").read_text())
    assert m["status"] == "complete" and m["kind"] == "rank"
    assert m["reference"]["real"] is True and "real data" in m["reference"]["note"]
    assert {s["name"]: s["trained"] for s in m["spaces"]} == {"toy-red": True, "toy-blue": False}
    assert "versions" in m and m["weights"]["toy-red"] == "sha-toy-red"
    sample = np.load(RunDir(rank_run).set_dir("g60") / "sample.npy")
    assert sample.shape == (4, 3, RES, RES) and sample.dtype == np.uint8
    # each set generated once, each set x space extracted once
    assert m["work"]["images_generated"] == N_REF + len(SHIFTS) * N_GEN
    assert m["work"]["feature_passes"] == 2 * (N_REF + len(SHIFTS) * N_GEN)
    assert not list(rank_run.rglob(".partial-*"))


def test_rerun_is_a_noop_and_an_interrupted_run_resumes(rank_run, folders, tmp_path):
    cfg = load_rankconfig_text(tmp_path, config_text(folders))
    again = run_rank(cfg, rank_run, progress=False, log=lambda s: None)
    assert again.status == "already complete"
    # simulate a kill after one comparison: drop a marker and the tables
    rd = RunDir(rank_run)
    (rank_run / "done" / "stats__g60__toy-blue.json").unlink()
    before = _table(rank_run, "rank_metrics")
    for p in (rank_run / "tables").iterdir():
        p.unlink()
    result = run_rank(cfg, rank_run, progress=False, log=lambda s: None)
    assert result.status == "complete"
    assert result.work.get("images_generated", 0) == 0 and result.work.get("feature_passes", 0) == 0
    assert result.work["comparisons"] == 1
    pd.testing.assert_frame_equal(_table(rank_run, "rank_metrics"), before)
    assert rd.read_manifest()["status"] == "complete"


def test_changed_config_is_refused(rank_run, folders, tmp_path):
    cfg = load_rankconfig_text(tmp_path, config_text(folders, n_boot=41))
    with pytest.raises(ConfigError, match="metrics.n_boot"):
        run_rank(cfg, rank_run, progress=False, log=lambda s: None)


def test_folder_with_too_few_files_is_a_clear_error(folders, tmp_path):
    text = config_text(folders).replace(f"count = {N_GEN}", f"count = {N_GEN + 5}")
    cfg = load_rankconfig_text(tmp_path, text)
    with pytest.raises(ValueError, match=r"holds 30 images"):
        run_rank(cfg, tmp_path / "run", progress=False, log=lambda s: None)


def test_a_failed_setup_does_not_block_the_corrected_config(folders, tmp_path, capsys):
    """Too few files for the seeds asked for: exit 2 before anything runs, and the corrected
    config then runs in the same directory without --force (as a sweep does)."""
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(config_text(folders, n_boot=5))
    bad.write_text(good.read_text().replace(f"count = {N_GEN}", f"count = {N_GEN + 5}"))
    out = tmp_path / "run"
    assert main(["rank", str(bad), "--out", str(out), "--no-progress"]) == 2
    assert "holds 30 images" in capsys.readouterr().err
    assert not (out / "manifest.json").exists() and not (out / "tables").exists()
    assert main(["rank", str(good), "--out", str(out), "--no-progress"]) == 0
    assert RunDir(out).read_manifest()["status"] == "complete"


def load_rankconfig_text(tmp_path: Path, text: str):
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return load_rank_config(path)


# ---- explained FD -----------------------------------------------------------------------------
# The attribute "red" is a +80 brightening of the red channel, scored by the mean red level
# (threshold 0.5 sits between the groups' ~0.35 and ~0.67). The reference holds it in half its
# images. Generator "gap" holds it in 80%: its FD in the red space comes from that prevalence
# gap alone. Generator "shift" holds it in 16/30 (almost the reference's half) but brightens
# every image's blue channel: its FD in the blue space has nothing to do with the attribute.
EX_REF, EX_GEN, RED_ATTR = 40, 30, 80
EX_SETS = {
    "ref": (EX_REF, 20, 0),
    "gap": (EX_GEN, 24, 0),
    "shift": (EX_GEN, 16, 60),
}  # n, with, blue


class RednessScorer(scorers_mod.Scorer):
    name = "redness"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, images, *args):
        self.calls.append(len(images))
        return torch.as_tensor(images)[:, 0].double().mean(dim=(1, 2)).numpy() / 255


def _write_mixture(folder: Path, n: int, n_with: int, blue: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = rng.integers(30, 150, size=(RES, RES, 3)).astype(np.int64)
        img[..., 0] += RED_ATTR if i < n_with else 0
        img[..., 2] += blue
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def explained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("explained")
    for k, (name, (n, n_with, blue)) in enumerate(EX_SETS.items()):
        _write_mixture(root / name, n, n_with, blue, 50 + k)
    text = f"""
name = "toy explained FD"
seeds = {{start = 0, count = {EX_GEN}}}
spaces = ["toy-red", {{name = "toy-blue", allow_untrained = true}}]
sample_images = 0
[[generators]]
spec = "folder:{root / "gap"}"
id = "gap"
[[generators]]
spec = "folder:{root / "shift"}"
id = "shift"
[reference]
spec = "folder:{root / "ref"}"
seeds = {{start = 0, count = {EX_REF}}}
[metrics]
n_boot = 5
kid_subsets = 2
[explained]
enabled = true
scorers = ["redness"]
thresholds = {{redness = 0.5}}
n_boot = 40
"""
    cfg = load_rankconfig_text(root, text)
    scorer = RednessScorer()
    comps = Components(load_scorer=lambda name: scorer)
    out = root / "run"
    result = run_rank(cfg, out, progress=False, components=comps, log=lambda s: None)
    return out, cfg, comps, scorer, result, root


def test_explained_fd_finds_the_prevalence_gap(explained_run):
    run, *_ = explained_run
    ex = _table(run, "explained_fd").set_index(["generator", "space"])
    assert (ex["status"] == "ok").all() and (ex["attribute"] == "redness").all()
    gap = ex.loc[("gap", "toy-red")]
    assert gap["prevalence_gen"] == pytest.approx(0.8) and gap["prevalence_ref"] == pytest.approx(
        0.5
    )
    assert gap["explained_fraction"] > 0.9  # the gap explains the FD
    assert gap["explained_ci_low"] > 0.5
    assert gap["fd_drop_ci_low"] <= gap["fd_drop"] <= gap["fd_drop_ci_high"]
    shift = ex.loc[("shift", "toy-blue")]
    assert shift["prevalence_gen"] == pytest.approx(16 / 30)
    assert (
        shift["fd"] > 20 * ex.loc[("gap", "toy-blue"), "fd"]
    )  # a large FD from the blue shift ...
    assert abs(shift["explained_fraction"]) < 0.05  # ... that the attribute does not explain
    # the untrained space keeps its label
    assert set(ex.xs("toy-blue", level="space")["space_label"]) == {"toy-blue (untrained)"}
    assert not ex.xs("toy-blue", level="space")["trained"].any()


def _weighted_fd(x: np.ndarray, wx: np.ndarray, y: np.ndarray) -> float:
    mx, my = np.average(x, axis=0, weights=wx), y.mean(0)
    sx, sy = np.cov(x, rowvar=False, aweights=wx), np.cov(y, rowvar=False)
    return float(((mx - my) ** 2).sum() + np.trace(sx + sy - 2 * linalg.sqrtm(sx @ sy).real))


def test_explained_fd_matches_a_textbook_reweighting(explained_run):
    run, *_ = explained_run
    ex = _table(run, "explained_fd").set_index(["generator", "space"])
    for g in ("gap", "shift"):
        for space, loader in (
            ("toy-red", load_red),
            ("toy-blue", lambda: load_blue(allow_untrained=True)),
        ):
            ref = _cached(run, run.parent / "ref", EX_REF, loader())
            gen = _cached(run, run.parent / g, EX_GEN, loader())
            present = np.arange(EX_GEN) < EX_SETS[g][1]  # the construction, not the scorer
            p_gen, p_ref = present.mean(), 0.5
            w = np.where(present, p_ref / p_gen, (1 - p_ref) / (1 - p_gen))
            row = ex.loc[(g, space)]
            assert row["fd"] == pytest.approx(_weighted_fd(gen, np.ones(EX_GEN), ref), rel=1e-6)
            assert row["fd_matched"] == pytest.approx(_weighted_fd(gen, w, ref), rel=1e-6)


def test_scores_and_prevalence_are_cached_and_resumed(explained_run):
    run, cfg, comps, scorer, result, root = explained_run
    prev = _table(run, "prevalence").set_index("set")
    assert prev.loc["reference", "prevalence"] == pytest.approx(0.5)
    assert prev.loc["gap", "prevalence"] == pytest.approx(0.8)
    assert prev.loc["shift", "prevalence"] == pytest.approx(16 / 30)
    assert prev.loc["reference", "role"] == "reference"
    # scores: float64 per image, equal to an independent computation from the PNG files
    files = sorted((root / "gap").glob("*.png"))
    expected = [np.asarray(Image.open(f))[..., 0].mean() / 255 for f in files]
    scores = np.load(run / "scores" / "gap" / "redness.npy")
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, expected)
    assert result.work["images_scored"] == EX_REF + 2 * EX_GEN and result.work["explained"] == 2
    for ext in ("csv", "json", "parquet"):
        assert (run / "tables" / f"explained_fd.{ext}").is_file()
    # an interrupted run: explained task and tables lost -> recomputed from cached scores
    (run / "done" / "explained__shift.json").unlink()
    before = _table(run, "explained_fd")
    for p in (run / "tables").iterdir():
        p.unlink()
    calls = len(scorer.calls)
    again = run_rank(cfg, run, progress=False, components=comps, log=lambda s: None)
    assert again.work.get("images_generated", 0) == 0 and again.work.get("images_scored", 0) == 0
    assert again.work["explained"] == 1 and len(scorer.calls) == calls
    pd.testing.assert_frame_equal(_table(run, "explained_fd"), before)


def test_explained_scorers_that_fail_to_load(folders, tmp_path):
    """Explained FD is opt-in: an [explained] table without `enabled = true` loads no scorer;
    enabled, a scorer that cannot load is an error."""

    def broken(name):
        raise FileNotFoundError(f"no weights for {name}")

    text = config_text(folders, n_boot=3).replace("enabled = false", 'scorers = ["gender"]')
    cfg = load_rankconfig_text(tmp_path, text)
    assert cfg.explained.enabled is False
    logs: list[str] = []
    run_rank(
        cfg,
        tmp_path / "off",
        progress=False,
        components=Components(load_scorer=broken),
        log=logs.append,
    )  # off by default: never loaded
    assert not any("gender" in m for m in logs)
    assert not (tmp_path / "off" / "tables" / "explained_fd.parquet").exists()
    cfg = load_rankconfig_text(
        tmp_path, text.replace('scorers = ["gender"]', 'scorers = ["gender"]\nenabled = true')
    )
    with pytest.raises(RuntimeError, match=r"\[explained\] scorer 'gender' cannot be loaded"):
        run_rank(
            cfg,
            tmp_path / "required",
            progress=False,
            components=Components(load_scorer=broken),
            log=lambda s: None,
        )


# ---- paired differences, reference floor, KID subset size, command (issue 19) ----------------
def test_paired_differences_table(rank_run):
    """Every pair x space x metric; FD differences are the stored replicates' differences,
    bias-corrected; in the red space g0 is established closer than g90 (red shift 0 vs 90)."""
    paired = _table(rank_run, "paired_differences")
    pairs = {(a, b) for a, b in zip(paired["generator_a"], paired["generator_b"])}
    assert len(pairs) == 6 and len(paired) == 6 * 2 * 6  # pairs x spaces x metrics
    row = paired[
        (paired["metric"] == "fd")
        & (paired["space"] == "toy-red")
        & (paired["generator_a"] == "g0")
        & (paired["generator_b"] == "g90")
    ].iloc[0]
    reps = {
        g: np.array(
            json.loads(RunDir(rank_run).stats_path(f"stats/{g}/toy-red").read_text())["replicates"][
                "fd"
            ]
        )
        for g in ("g0", "g90")
    }
    metrics = _table(rank_run, "rank_metrics").set_index(["generator", "space"])
    plain = metrics.loc[("g0", "toy-red"), "fd"] - metrics.loc[("g90", "toy-red"), "fd"]
    bias = (reps["g0"] - reps["g90"]).mean() - plain
    assert row["diff_plain"] == pytest.approx(plain) and row["diff"] == pytest.approx(plain - bias)
    lo, hi = np.quantile(reps["g0"] - reps["g90"] - 2 * bias, [0.025, 0.975])
    assert (row["lo"], row["hi"]) == pytest.approx((lo, hi))
    assert row["hi"] < 0 and row["n_boot"] == 40


def test_reference_floor_and_kid_subset_size_used(rank_run):
    floor = _table(rank_run, "reference_floor")
    assert set(floor["set"]) == {"reference", *SHIFTS} and set(floor["space"]) == {
        "toy-red",
        "toy-blue",
    }
    assert (floor["n_a"] == N_REF // 2).all() and (floor["splits"] == 5).all()
    red = floor[floor["space"] == "toy-red"].set_index("set")["fd"]
    # g0 draws from the reference's distribution in red: at the floor; the others above it
    assert red["g0"] < red["g30"] < red["g60"] < red["g90"]
    assert abs(red["g0"] - red["reference"]) < 0.2 * (red["g30"] - red["reference"])
    metrics = _table(rank_run, "rank_metrics")
    assert (metrics["kid_subset_size_used"] == min(N_GEN, N_REF)).all()  # asked 1000


def test_rank_command_is_recorded(rank_run):
    manifest = json.loads((rank_run / "manifest.json").read_text())
    assert manifest["command"][:2] == ["counterfactual", "rank"] and "--out" in manifest["command"]
