"""Weight lookup order, checksums and the missing-weights message."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from extractors.runtime import weights as W


def _file(path, content: bytes = b"weights!"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(W.WEIGHTS_ENV, raising=False)


def test_lookup_order_explicit_then_env_dirs_then_carrier(tmp_path, monkeypatch):
    # a fake carrier package on sys.path, found without importing it
    pkg = tmp_path / "site" / "fake_carrier_pkg_xyz"
    _file(pkg / "__init__.py", b"raise RuntimeError('carrier code must not be imported')\n")
    carried = _file(pkg / "models" / "net.bin", b"carrier")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    wf = W.WeightFile(
        "net.bin", None, "somewhere", carrier=("fake_carrier_pkg_xyz", "models/net.bin")
    )

    monkeypatch.delenv(W.WEIGHTS_ENV, raising=False)
    assert W.locate(wf) == carried
    assert "fake_carrier_pkg_xyz" not in sys.modules

    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir()
    in_d2 = _file(d2 / "net.bin", b"d2")
    monkeypatch.setenv(W.WEIGHTS_ENV, os.pathsep.join([str(d1), "", str(d2)]))
    assert W.locate(wf) == in_d2  # d1 lacks the file, d2 has it
    in_d1 = _file(d1 / "net.bin", b"d1")
    assert W.locate(wf) == in_d1  # earlier directory wins

    explicit = _file(tmp_path / "mine" / "other-name.bin", b"mine")
    assert W.locate(wf, explicit) == explicit  # explicit beats everything
    assert W.locate(wf, tmp_path / "d2") == in_d2  # an explicit directory is searched


def test_missing_message_names_file_sha_source_and_env(tmp_path, no_env):
    sha = hashlib.sha256(b"x").hexdigest()
    wf = W.WeightFile("model.pth", sha, "the Example release page")
    with pytest.raises(W.MissingWeightsError) as info:
        W.require(wf)
    msg = str(info.value)
    for needle in ("model.pth", sha, "the Example release page", W.WEIGHTS_ENV, "weights=PATH"):
        assert needle in msg
    with pytest.raises(W.MissingWeightsError, match="does not exist"):
        W.require(wf, tmp_path / "nope.pth")


def test_checksum_enforced_on_expected_name_and_reported(tmp_path, no_env):
    good = b"the real weights"
    sha = hashlib.sha256(good).hexdigest()
    wf = W.WeightFile("model.pth", sha, "the Example release page")
    path = _file(tmp_path / "model.pth", good)
    assert W.require(wf, path) == (path, sha)
    bad = _file(tmp_path / "bad" / "model.pth", b"truncated")
    with pytest.raises(W.WeightsChecksumError) as info:
        W.require(wf, bad)
    assert sha in str(info.value) and hashlib.sha256(b"truncated").hexdigest() in str(info.value)
    # a differently named file passed explicitly is another checkpoint: accepted, own hash recorded
    other = _file(tmp_path / "finetuned.pth", b"other checkpoint")
    assert W.require(wf, other) == (other, hashlib.sha256(b"other checkpoint").hexdigest())


def test_sha256_cache_follows_file_changes(tmp_path):
    p = _file(tmp_path / "w.bin", b"a" * 5000)
    assert W.sha256_file(p) == hashlib.sha256(b"a" * 5000).hexdigest()
    p.write_bytes(b"b" * 4000)
    assert W.sha256_file(p) == hashlib.sha256(b"b" * 4000).hexdigest()
    st = p.stat()
    p.write_bytes(b"c" * 4000)  # same size: the mtime must tell
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert W.sha256_file(p) == hashlib.sha256(b"c" * 4000).hexdigest()


def test_weightfile_validates_sha():
    with pytest.raises(ValueError, match="64 lowercase hex"):
        W.WeightFile("a.pt", "7ff4a85c", "x")
