"""Sample folders and zips: ordering, lossless reading, geometry policy, bad files, hashing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generators.folder import BadImageError, FolderGenerator, UpscaleWarning, load_folder


def rand_img(seed: int, h: int = 8, w: int = 8) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, size=(h, w, 3), dtype=np.uint8)


def write(path: Path, arr: np.ndarray, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)


def test_recursive_sorted_case_insensitive_and_hidden_ignored(tmp_path):
    write(tmp_path / "b.PNG", rand_img(1), "PNG")
    write(tmp_path / "a" / "z.png", rand_img(2))
    write(tmp_path / "a.webp", rand_img(3), "WEBP")
    write(tmp_path / ".hidden" / "x.png", rand_img(4))
    write(tmp_path / "._c.png", rand_img(5))
    (tmp_path / "notes.txt").write_text("not an image")
    g = FolderGenerator(tmp_path)
    assert g.files == ["a.webp", "a/z.png", "b.PNG"]
    assert len(g) == 3
    np.testing.assert_array_equal(g.images_for_seeds([2])[0].permute(1, 2, 0).numpy(), rand_img(1))


def test_centre_crop_then_lanczos_resize(tmp_path):
    wide = rand_img(7, h=10, w=16)
    write(tmp_path / "0.png", rand_img(6, 12, 12))
    write(tmp_path / "1.png", wide)
    g = FolderGenerator(tmp_path, resolution=6)
    out = g.images_for_seeds([1])[0].permute(1, 2, 0).numpy()
    ref = np.asarray(Image.fromarray(wide[:, 3:13]).resize((6, 6), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(out, ref)
    # default resolution: the most common shorter side (a tie of 12 and 10: the larger)
    with pytest.warns(UpscaleWarning, match=r"1 of 2 images .* upscaled \(first: 1.png, 16x10\)"):
        g = FolderGenerator(tmp_path)
    assert g.resolution == 12
    np.testing.assert_array_equal(
        g.images_for_seeds([0])[0].permute(1, 2, 0).numpy(), rand_img(6, 12, 12)
    )
    d = g.describe()
    assert d["resize"] == "lanczos" and d["crop"] == "center" and d["n_files"] == 2


def test_resize_error_policy_names_the_file(tmp_path):
    write(tmp_path / "0.png", rand_img(1))
    write(tmp_path / "1.png", rand_img(2, 9, 9))
    write(tmp_path / "2.png", rand_img(3))
    g = FolderGenerator(tmp_path, resize="error")
    assert g.resolution == 8
    with pytest.raises(BadImageError, match=r"1\.png.*9x9"):
        g.images_for_seeds([0, 1])
    with pytest.raises(ValueError, match="resize must be one of"):
        FolderGenerator(tmp_path, resize="sinc")


def test_rgba_and_greyscale_become_rgb(tmp_path):
    rgba = np.random.RandomState(0).randint(0, 256, (8, 8, 4), dtype=np.uint8)
    grey = np.random.RandomState(1).randint(0, 256, (8, 8), dtype=np.uint8)
    write(tmp_path / "a.png", rgba)
    write(tmp_path / "b.png", grey)
    x = FolderGenerator(tmp_path).images_for_seeds([0, 1]).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(x[0], rgba[..., :3])
    np.testing.assert_array_equal(x[1], np.repeat(grey[..., None], 3, axis=2))


def test_zip_equals_directory_and_hash_is_content_based(tmp_path):
    d = tmp_path / "d"
    for i in range(4):
        write(d / f"s{i}.png", rand_img(i))
    zpath = tmp_path / "s.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(d.iterdir()):
            zf.write(p, p.name)
        zf.writestr("__MACOSX/._s0.png", b"junk")
    gd, gz = FolderGenerator(d), FolderGenerator(zpath)
    assert torch.equal(gd.images_for_seeds(range(4)), gz.images_for_seeds(range(4)))
    assert gd.file_list_sha256 == gz.file_list_sha256
    assert gz.describe()["source"] == "zip"
    write(d / "s3.png", rand_img(99))
    assert FolderGenerator(d).file_list_sha256 != gd.file_list_sha256


def test_corrupt_file_stops_or_is_skipped(tmp_path):
    for i in range(3):
        write(tmp_path / f"{i}.png", rand_img(i))
    (tmp_path / "1b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(BadImageError, match="1b.png"):
        FolderGenerator(tmp_path).images_for_seeds(range(4))
    g = FolderGenerator(tmp_path, skip_bad=True)
    assert g.skipped == ["1b.png"] and len(g) == 3
    assert g.describe()["n_skipped"] == 1
    np.testing.assert_array_equal(g.images_for_seeds([2])[0].permute(1, 2, 0).numpy(), rand_img(2))


def test_truncated_jpeg_names_the_file(tmp_path):
    write(tmp_path / "a.jpg", rand_img(0, 32, 32), "JPEG")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError, match="a.jpg"):
        FolderGenerator(tmp_path, resolution=32).images_for_seeds([0])


def test_empty_missing_and_index_errors(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        FolderGenerator(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        FolderGenerator(tmp_path / "nope")
    with pytest.raises(ValueError, match="needs a path"):
        load_folder(None)
    write(tmp_path / "a.png", rand_img(0))
    g = FolderGenerator(tmp_path)
    with pytest.raises(IndexError, match="holds 1 images"):
        g.images_for_seeds([1])
    with pytest.raises(TypeError, match="no latent space"):
        g.images(torch.zeros(1, 512))
    with pytest.raises(TypeError, match="no latent space"):
        g.latents([0])
    assert torch.equal(g.images(torch.tensor([0, 0])), g.images_for_seeds([0, 0]))
