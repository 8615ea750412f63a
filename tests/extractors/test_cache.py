"""Feature cache: content keys, round trip, corruption detection, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from extractors.runtime.cache import (
    CacheCorruptionWarning,
    FeatureCache,
    canonical_json,
    feature_key,
)

DESC = {
    "name": "inception-fid",
    "label": "inception-fid",
    "dim": 4,
    "trained": True,
    "weights_sha256": "ab" * 32,
    "preprocessing": {"resize": "tf-bilinear", "backend": "onnx"},
}
IMAGES = {
    "generator": "dcgan-digiface",
    "weights_sha256": "cd" * 32,
    "seeds": [0, 1, 2],
    "intervention": {"kind": "none"},
}


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_feature_key_is_sha256_of_canonical_content():
    key = feature_key(IMAGES, DESC)
    payload = {
        "version": 1,
        "images": IMAGES,
        "extractor": {
            k: DESC[k] for k in ("name", "dim", "trained", "weights_sha256", "preprocessing")
        },
    }
    expected = hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert key == expected
    # key order and numpy scalar types do not matter; the display label does not either
    reordered = dict(reversed(list(IMAGES.items())))
    reordered["seeds"] = np.array([0, 1, 2], dtype=np.int64)
    assert feature_key(reordered, {**DESC, "label": "something else"}) == key
    # everything that determines the features does
    assert feature_key({**IMAGES, "seeds": [0, 1, 3]}, DESC) != key
    assert feature_key(IMAGES, {**DESC, "weights_sha256": "ef" * 32}) != key
    assert (
        feature_key(IMAGES, {**DESC, "preprocessing": {"resize": "clean", "backend": "onnx"}})
        != key
    )
    assert feature_key(IMAGES, {**DESC, "trained": False}) != key


def test_feature_key_refuses_bad_input():
    with pytest.raises(ValueError, match="image_set_identity"):
        feature_key({}, DESC)
    with pytest.raises(ValueError, match="weights_sha256"):
        feature_key(IMAGES, {"name": "x", "dim": 2, "trained": True, "preprocessing": {}})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError, match="cache key"):
        canonical_json({"x": object()})


def test_round_trip_and_meta(tmp_path):
    cache = FeatureCache(tmp_path)
    key = feature_key(IMAGES, DESC)
    assert cache.get(key) is None and key not in cache
    feats = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    cache.put(key, feats, {"label": "inception-fid", "n": 5})
    got = cache.get(key)
    assert got.dtype == np.float32 and np.array_equal(got, feats)
    assert cache.meta(key) == {"label": "inception-fid", "n": 5}
    calls = []
    assert np.array_equal(cache.get_or_compute(key, lambda: calls.append(1)), feats) and not calls
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp") or "/." in f]  # no temp files


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage-meta", "swap-array"])
def test_corrupt_entry_is_warned_deleted_and_a_miss(tmp_path, damage):
    cache = FeatureCache(tmp_path)
    key = feature_key(IMAGES, DESC)
    feats = np.arange(40, dtype=np.float32).reshape(10, 4)
    npy = cache.put(key, feats)
    meta = npy.with_suffix(".json")
    if damage == "flip":
        data = bytearray(npy.read_bytes())
        data[-3] ^= 0xFF
        npy.write_bytes(bytes(data))
    elif damage == "truncate":
        npy.write_bytes(npy.read_bytes()[:50])
    elif damage == "garbage-meta":
        meta.write_text("{not json")
    else:  # a valid .npy that is not the stored one
        np.save(npy, feats * 2)
    with pytest.warns(CacheCorruptionWarning, match="corrupt"):
        assert cache.get(key) is None
    assert not npy.exists() and not meta.exists()
    assert cache.get(key) is None  # stays a plain miss afterwards
    cache.put(key, feats)
    assert np.array_equal(cache.get(key), feats)  # and can be rewritten


def test_failed_write_leaves_no_entry_and_no_temp_file(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    key = feature_key(IMAGES, DESC)
    real_replace = os.replace

    def crash_on_meta(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_meta)
    with pytest.raises(OSError, match="disk full"):
        cache.put(key, np.ones((3, 4), dtype=np.float32))
    monkeypatch.setattr(os, "replace", real_replace)
    assert key not in cache and cache.get(key) is None
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp")]


def test_invalid_keys_rejected(tmp_path):
    cache = FeatureCache(tmp_path)
    for bad in ("../../etc/passwd", "AB" * 32, "abc"):
        with pytest.raises(ValueError, match="invalid cache key"):
            cache.get(bad)
