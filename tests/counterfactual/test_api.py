"""`counterfactual.fd` (the library call the `fd` command wraps): against an independent scipy
FD, on arrays, folders and features; its errors; and the README's example, run as written."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

import counterfactual
import extractors
from counterfactual.cli import main
from counterfactual.errors import ParameterError, UserError
from extractors.base import FeatureExtractor
from helpers.paths import ROOT
from helpers.registries import registered

README = ROOT / "README.md"


class PixelMoments(FeatureExtractor):
    """Toy space: per-channel mean, std and max of the pixels (9-d)."""

    name, dim, trained, weights_sha256 = "api-moments", 9, True, None
    preprocessing = {"features": "per-channel mean, std, max"}

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        x = images.double().flatten(2)
        return torch.cat([x.mean(2), x.std(2), x.amax(2)], 1)


def load_moments(device: str = "cpu", **_: object) -> PixelMoments:
    return PixelMoments()


@pytest.fixture(scope="module", autouse=True)
def _toy_space():
    """The module's toy feature space in the registry while its tests run."""
    with registered(_register):
        yield


def _register() -> None:
    extractors.register_extractor("api-moments", f"{__name__}:load_moments", description="test")


def _features(images: np.ndarray) -> np.ndarray:
    """The toy space in numpy (float64), independent of the extractor class."""
    x = images.reshape(len(images), 3, -1).astype(np.float64)
    return np.concatenate([x.mean(2), x.std(2, ddof=1), x.max(2)], 1)


def _scipy_fd(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    mean_term = float(((x.mean(0) - y.mean(0)) ** 2).sum())
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return mean_term, float(np.trace(s1 + s2 - 2 * covmean))


def _images(seed: int, n: int = 30, shift: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, (n, 3, 8, 8)) + shift, 0, 255).astype(np.uint8)


def _folder(path: Path, images: np.ndarray) -> Path:
    path.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img.transpose(1, 2, 0)).save(path / f"{i:03d}.png")
    return path


def test_arrays_match_scipy_and_the_terms_add_up():
    a, b = _images(0), _images(1, shift=40)
    r = counterfactual.fd(a, torch.from_numpy(b), space="api-moments")
    mean_term, trace_term = _scipy_fd(_features(a), _features(b))
    assert r.mean_term == pytest.approx(mean_term, rel=1e-6)  # features are float32
    assert r.trace_term == pytest.approx(trace_term, rel=1e-5)
    assert float(r) == r.value == pytest.approx(r.mean_term + r.trace_term, rel=1e-12)
    assert (r.space, r.trained, r.n_a, r.n_b, r.rank_deficient) == (
        "api-moments",
        True,
        30,
        30,
        False,
    )


def test_features_with_space_none():
    x, y = _features(_images(2)), _features(_images(3, shift=-30))
    r = counterfactual.fd(x, y, space=None)
    assert (r.mean_term, r.trace_term) == pytest.approx(_scipy_fd(x, y), rel=1e-6)
    assert r.space is None and r.trained is None


def test_folders_and_the_cli_are_the_same_computation(tmp_path, capsys):
    a, b = _images(4, n=20), _images(5, n=20, shift=25)
    fa, fb = _folder(tmp_path / "a", a), _folder(tmp_path / "b", b)
    from_arrays = counterfactual.fd(a, b, space="api-moments")
    from_folders = counterfactual.fd(f"folder:{fa}", fb, space="api-moments")  # bare path too
    assert from_folders.value == pytest.approx(from_arrays.value, rel=1e-12)  # PNG is lossless
    assert main(["fd", str(fa), str(fb), "--space", "api-moments", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fd"] == from_folders.value and out["mean_term"] == from_folders.mean_term
    head = counterfactual.fd(fa, fa, space="api-moments", n=10, seed_start_b=10)
    assert (head.n_a, head.n_b) == (10, 10)  # files 0-9 against 10-19
    rows = _features(a)  # features are float32: rel 1e-6
    assert (head.mean_term, head.trace_term) == pytest.approx(
        _scipy_fd(rows[:10], rows[10:]), rel=1e-5
    )


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"n": 1}, "n"),
        ({"seed_start": -1}, "seed_start"),
        ({"seed_start_b": -2}, "seed_start_b"),
        ({"batch_size": 0}, "batch_size"),
        ({"min_size": 0}, "min_size"),
    ],
)
def test_numbers_out_of_range_name_the_parameter(kwargs, param):
    with pytest.raises(ParameterError) as info:
        counterfactual.fd("dcgan-digiface", "dcgan-digiface", space="api-moments", **kwargs)
    assert info.value.param == param and str(info.value).startswith(f"{param}=")


@pytest.mark.parametrize(
    "a,b,space,needle",
    [
        (np.zeros((4, 9)), np.zeros((4, 9)), "api-moments", "images must be uint8"),
        (_images(0), _images(1), None, "precomputed features"),
        (np.zeros((4, 9)), "dcgan-digiface", None, "got str"),
        (_images(0, n=1), _images(1), "api-moments", "at least 2 images"),
        ("/no/such/dir", _images(1), "api-moments", "'folder:/no/such/dir'"),
    ],
)
def test_bad_sources_are_user_errors(a, b, space, needle):
    with pytest.raises(UserError, match=re.escape(needle)):
        counterfactual.fd(a, b, space=space)


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    marker = text.index("<!-- tests/counterfactual/test_api.py runs this block")
    start = text.index("```python\n", marker) + len("```python\n")
    return text[start : text.index("```", start)]


def test_the_readme_example_runs_and_prints_what_it_says():
    code = _readme_example()
    lines = code.splitlines()
    expected = [
        line[2:]
        for prev, line in zip(lines, lines[1:])
        if prev.lstrip().startswith("print(") and line.startswith("# ")
    ]
    assert len(expected) == 2
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.warns(Warning):  # rank-deficient: n < dim
        exec(compile(code, str(README), "exec"), {})
    assert out.getvalue().splitlines() == expected
