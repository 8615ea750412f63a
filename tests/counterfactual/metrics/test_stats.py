"""FeatureStats: streaming and merging against numpy, .npz files as pytorch-fid writes them."""

from __future__ import annotations

import numpy as np
import pytest

from counterfactual.metrics import FeatureStats, frechet_distance


@pytest.fixture
def x() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal((257, 12)) @ rng.standard_normal((12, 12))).astype(np.float32)


def test_from_features_matches_numpy(x):
    s = FeatureStats.from_features(x)
    ref = x.astype(np.float64)
    assert s.n == 257 and s.dim == 12
    assert s.mean.dtype == np.float64 and s.cov.dtype == np.float64
    np.testing.assert_allclose(s.mean, ref.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.cov, np.cov(ref, rowvar=False), rtol=1e-12, atol=1e-12)
    assert np.array_equal(s.cov, s.cov.T)


def test_chunks_and_merges_agree(x):
    one = FeatureStats.from_features(x)
    many = FeatureStats(12)
    for start in range(0, len(x), 10):
        many.append(x[start : start + 10])
    halves = FeatureStats.from_features(x[:100]).merge(FeatureStats.from_features(x[100:]))
    parts = FeatureStats.merge_all(FeatureStats.from_features(c) for c in np.array_split(x, 7))
    small_chunks = FeatureStats.from_features(x, chunk_rows=3)
    for other in (many, halves, parts, small_chunks):
        assert other.n == one.n
        np.testing.assert_allclose(other.mean, one.mean, rtol=0, atol=1e-10)
        np.testing.assert_allclose(other.cov, one.cov, rtol=0, atol=1e-10 * np.abs(one.cov).max())


def test_large_offset_is_numerically_stable():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 4))
    s = FeatureStats(4)
    for chunk in np.array_split(z + 1e7, 13):
        s.append(chunk)
    np.testing.assert_allclose(s.cov, np.cov(z, rowvar=False), rtol=0, atol=1e-7)


def test_keep_features_and_merge(x):
    a = FeatureStats.from_features(x[:50], keep_features=True)
    b = FeatureStats.from_features(x[50:], keep_features=True)
    merged = a.merge(b)
    assert merged.keeps_features
    np.testing.assert_array_equal(merged.features, x)
    with pytest.raises(ValueError, match="keep_features"):
        _ = FeatureStats.from_features(x).features
    assert not a.merge(FeatureStats.from_features(x)).keeps_features


def test_pytorch_fid_style_npz_loads(tmp_path, x):
    ref = x.astype(np.float64)
    mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
    path = tmp_path / "fid_stats.npz"
    np.savez_compressed(path, mu=mu, sigma=sigma)  # what pytorch-fid's --save-stats writes
    s = FeatureStats.load(path)
    assert s.n is None
    np.testing.assert_array_equal(s.mean, mu)
    np.testing.assert_allclose(s.cov, sigma, rtol=0, atol=1e-15)
    assert frechet_distance(s, FeatureStats.from_features(x)).value < 1e-9
    with pytest.raises(ValueError, match="unknown sample count"):
        s.append(ref[:3])


def test_save_round_trip_is_pytorch_fid_readable(tmp_path, x):
    s = FeatureStats.from_features(x)
    path = s.save(tmp_path / "sub" / "stats.npz")
    with np.load(path) as data:  # as pytorch-fid / clean-fid read it
        assert set(data.files) == {"mu", "sigma", "n"}
        np.testing.assert_array_equal(data["mu"], s.mean)
        np.testing.assert_array_equal(data["sigma"], s.cov)
    back = FeatureStats.load(path)
    assert back.n == 257
    np.testing.assert_array_equal(back.mean, s.mean)
    np.testing.assert_array_equal(back.cov, s.cov)
    # n is known, so a reloaded file keeps accumulating exactly.
    back.append(x[:20])
    ref = FeatureStats.from_features(np.concatenate([x, x[:20]]))
    np.testing.assert_allclose(back.cov, ref.cov, rtol=0, atol=1e-10 * np.abs(ref.cov).max())
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_load_errors_name_file_and_key(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        FeatureStats.load(missing)
    p = tmp_path / "nosigma.npz"
    np.savez(p, mu=np.zeros(3))
    with pytest.raises(ValueError, match=r"nosigma.npz: missing key 'sigma'"):
        FeatureStats.load(p)
    p = tmp_path / "shape.npz"
    np.savez(p, mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(ValueError, match=r"shape.npz: key 'sigma' must have shape \(3, 3\)"):
        FeatureStats.load(p)
    p = tmp_path / "junk.npz"
    p.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz"):
        FeatureStats.load(p)


def test_shape_errors():
    s = FeatureStats(3)
    with pytest.raises(ValueError, match="3 columns"):
        s.append(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        FeatureStats.from_features(np.zeros(5))
    with pytest.raises(ValueError, match="non-finite"):
        s.append(np.array([[1.0, np.nan, 0.0]]))
    s.append(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        _ = s.cov
    with pytest.raises(ValueError, match="dimensions differ"):
        s.merge(FeatureStats(4))
