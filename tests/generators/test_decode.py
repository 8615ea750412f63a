"""Every PIL mode decodes to the pixels its values say (generators.decode), checked against
closed forms computed here from the raw channel values; and the folder's size policy."""

from __future__ import annotations

import colorsys
import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from generators.decode import BadImageError, to_rgb
from generators.folder import FolderGenerator, UpscaleWarning, working_resolution

H, W = 5, 7
RNG = np.random.default_rng(0)


def grey3(values: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(values)[..., None], 3, axis=2)


def u8(shape) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def test_every_pil_mode_has_a_rule():
    for mode in Image.MODES:
        img = Image.new(mode, (W, H))
        out = to_rgb(img, "x")
        assert out.shape == (H, W, 3) and out.dtype == np.uint8, mode


def test_one_bit_and_greyscale():
    bits = RNG.integers(0, 2, (H, W)).astype(bool)
    np.testing.assert_array_equal(to_rgb(Image.fromarray(bits)), grey3(bits * 255))
    grey = u8((H, W))
    np.testing.assert_array_equal(to_rgb(Image.fromarray(grey)), grey3(grey))


def test_rgb_and_rgbx():
    rgb = u8((H, W, 3))
    np.testing.assert_array_equal(to_rgb(Image.fromarray(rgb)), rgb)
    rgbx = np.concatenate([rgb, u8((H, W, 1))], axis=2)
    np.testing.assert_array_equal(to_rgb(Image.frombytes("RGBX", (W, H), rgbx.tobytes())), rgb)


def _palette_image(mode: str = "P", alpha: np.ndarray | None = None):
    palette = u8((256, 3))
    index = u8((H, W))
    if mode == "PA":
        img = Image.frombytes("PA", (W, H), np.stack([index, alpha], axis=2).tobytes())
    else:
        img = Image.fromarray(index, "P")
    img.putpalette(palette.ravel().tolist())
    return img, palette, index


def test_palette_with_and_without_transparency():
    img, palette, index = _palette_image()
    np.testing.assert_array_equal(to_rgb(img), palette[index])
    img.info["transparency"] = int(index[0, 0])
    transparent = index == index[0, 0]
    np.testing.assert_array_equal(to_rgb(img, alpha="drop"), palette[index])
    white = to_rgb(img, alpha="white")
    np.testing.assert_array_equal(white[transparent], 255)
    np.testing.assert_array_equal(white[~transparent], palette[index][~transparent])
    np.testing.assert_array_equal(to_rgb(img, alpha="black")[transparent], 0)


def test_palette_png_with_transparency_file_round_trip():
    img, palette, index = _palette_image()
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=int(index[0, 0]))
    back = Image.open(io.BytesIO(buf.getvalue()))
    assert back.mode == "P" and "transparency" in back.info
    out = to_rgb(back, alpha="white")
    transparent = index == index[0, 0]
    np.testing.assert_array_equal(out[transparent], 255)
    np.testing.assert_array_equal(out[~transparent], palette[index][~transparent])


def _composite(colour: np.ndarray, alpha: np.ndarray, bg: float) -> np.ndarray:
    a = alpha.astype(np.float64)[..., None] / 255
    return np.rint(colour * a + bg * (1 - a)).astype(np.uint8)


def test_rgba_la_pa_alpha_rules():
    rgb, alpha = u8((H, W, 3)), u8((H, W))
    rgba = Image.fromarray(np.concatenate([rgb, alpha[..., None]], axis=2), "RGBA")
    np.testing.assert_array_equal(to_rgb(rgba), rgb)  # default: drop
    np.testing.assert_array_equal(to_rgb(rgba, alpha="black"), _composite(rgb, alpha, 0))
    np.testing.assert_array_equal(to_rgb(rgba, alpha="white"), _composite(rgb, alpha, 255))
    grey = u8((H, W))
    la = Image.fromarray(np.stack([grey, alpha], axis=2), "LA")
    np.testing.assert_array_equal(to_rgb(la), grey3(grey))
    np.testing.assert_array_equal(to_rgb(la, alpha="white"), _composite(grey3(grey), alpha, 255))
    pa, palette, index = _palette_image("PA", alpha)
    np.testing.assert_array_equal(to_rgb(pa), palette[index])
    np.testing.assert_array_equal(to_rgb(pa, alpha="black"), _composite(palette[index], alpha, 0))
    with pytest.raises(ValueError, match="alpha must be one of"):
        to_rgb(rgba, alpha="grey")


def test_premultiplied_modes_are_unpremultiplied():
    alpha = RNG.integers(128, 256, (H, W)).astype(np.uint8)  # alpha >= 128: rounding within 1
    grey, rgb = u8((H, W)), u8((H, W, 3))
    la = np.stack([np.rint(grey * (alpha / 255)), alpha], axis=2).astype(np.uint8)
    out = to_rgb(Image.frombytes("La", (W, H), la.tobytes())).astype(int)
    assert np.abs(out - grey3(grey)).max() <= 1
    rgba = np.concatenate([np.rint(rgb * (alpha / 255)[..., None]), alpha[..., None]], axis=2)
    out = to_rgb(Image.frombytes("RGBa", (W, H), rgba.astype(np.uint8).tobytes())).astype(int)
    assert np.abs(out - rgb).max() <= 1


def test_cmyk_ycbcr_hsv_against_closed_forms():
    cmyk = u8((H, W, 4))
    expected = (255.0 - cmyk[..., :3]) * (255.0 - cmyk[..., 3:]) / 255
    out = to_rgb(Image.frombytes("CMYK", (W, H), cmyk.tobytes())).astype(float)
    assert np.abs(out - expected).max() <= 1
    ycc = u8((H, W, 3)).astype(float)
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128
    expected = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=2)
    out = to_rgb(Image.frombytes("YCbCr", (W, H), ycc.astype(np.uint8).tobytes())).astype(float)
    assert np.abs(out - expected.clip(0, 255)).max() <= 2
    hsv = u8((H, W, 3))
    expected = (
        np.array([[colorsys.hsv_to_rgb(*(hsv[i, j] / 255)) for j in range(W)] for i in range(H)])
        * 255
    )
    out = to_rgb(Image.frombytes("HSV", (W, H), hsv.tobytes())).astype(float)
    assert np.abs(out - expected).max() <= 2


def _srgb_of_lightness(l_star: float) -> float:
    """sRGB value of a neutral grey of CIE lightness L* (closed form, D50 = D65 for greys)."""
    y = ((l_star + 16) / 116) ** 3 if l_star > 8 else l_star / 903.3
    return 255 * (1.055 * y ** (1 / 2.4) - 0.055 if y > 0.0031308 else 12.92 * y)


def test_lab_greys_and_hue():
    # PIL's LAB stores L* * 255 / 100 and a*, b* as signed bytes (0 = neutral)
    lightness = np.array([[0, 40, 128, 200, 255]], np.uint8)
    neutral = np.stack([lightness, np.zeros_like(lightness), np.zeros_like(lightness)], axis=2)
    out = to_rgb(Image.frombytes("LAB", (5, 1), neutral.tobytes())).astype(float)
    expected = [_srgb_of_lightness(float(v) * 100 / 255) for v in lightness[0]]
    assert np.abs(out[0] - np.array(expected)[:, None]).max() <= 1.5
    red = to_rgb(Image.frombytes("LAB", (1, 1), bytes([128, 40, 0]))).astype(int)[0, 0]
    assert red[0] > red[1] + 50 and red[0] > red[2]  # a* > 0 is red


@pytest.mark.parametrize(
    "mode,dtype", [("I;16", "<u2"), ("I;16L", "<u2"), ("I;16B", ">u2"), ("I;16N", "=u2")]
)
def test_sixteen_bit_greyscale_scales_by_257(mode, dtype):
    values = RNG.integers(0, 65536, (H, W)).astype(dtype)
    values[0, :3] = [0, 65535, 128]
    img = Image.frombytes(mode, (W, H), values.tobytes())
    np.testing.assert_array_equal(to_rgb(img), grey3(np.rint(values / 257.0).astype(np.uint8)))


def test_int32_is_read_as_16_bit_and_out_of_range_refused():
    values = RNG.integers(0, 65536, (H, W)).astype(np.int32)
    out = to_rgb(Image.fromarray(values, "I"))
    np.testing.assert_array_equal(out, grey3(np.rint(values / 257.0).astype(np.uint8)))
    with pytest.raises(BadImageError, match=r"x\.tif.*-5\.\.65535"):
        to_rgb(Image.fromarray(np.array([[-5, 65535]], np.int32), "I"), "x.tif")


def test_float_images_are_unit_intensities():
    values = RNG.random((H, W)).astype(np.float32)
    out = to_rgb(Image.fromarray(values, "F"))
    np.testing.assert_array_equal(
        out, grey3(np.rint(values.astype(np.float64) * 255).astype(np.uint8))
    )
    with pytest.raises(BadImageError, match=r"f\.png.*\[0, 1\]"):
        to_rgb(Image.fromarray(np.array([[0.0, 200.0]], np.float32), "F"), "f.png")
    with pytest.raises(BadImageError, match="NaN"):
        to_rgb(Image.fromarray(np.array([[0.0, np.nan]], np.float32), "F"), "f.png")


# ---- through files and the folder generator ----------------------------------------------
def _png(width: int, height: int, color_type: int, samples: np.ndarray) -> bytes:
    """A 16-bit PNG written by hand (so PIL's encoder is not its own reference)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = samples.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_sixteen_bit_pngs_in_a_folder_match_their_8_bit_versions(tmp_path):
    grey8, rgb8 = u8((16, 16)), u8((16, 16, 3))
    (tmp_path / "a16").mkdir()
    (tmp_path / "a8").mkdir()
    (tmp_path / "a16" / "0.png").write_bytes(_png(16, 16, 0, grey8.astype(np.uint32) * 257))
    (tmp_path / "a16" / "1.png").write_bytes(_png(16, 16, 2, rgb8.astype(np.uint32) * 257))
    Image.fromarray(grey8).save(tmp_path / "a8" / "0.png")
    Image.fromarray(rgb8).save(tmp_path / "a8" / "1.png")
    g16, g8 = FolderGenerator(tmp_path / "a16"), FolderGenerator(tmp_path / "a8")
    assert Image.open(tmp_path / "a16" / "0.png").mode == "I;16"
    assert torch.equal(g16.images_for_seeds([0, 1]), g8.images_for_seeds([0, 1]))
    # a generic 16-bit colour value: within 1 of v / 257 (PIL keeps the high byte)
    values = RNG.integers(0, 65536, (16, 16, 3))
    (tmp_path / "a16" / "1.png").write_bytes(_png(16, 16, 2, values))
    got = FolderGenerator(tmp_path / "a16").images_for_seeds([1])[0].permute(1, 2, 0).numpy()
    assert np.abs(got.astype(float) - values / 257).max() <= 1.0


def test_folder_alpha_option(tmp_path):
    rgb, alpha = u8((8, 8, 3)), u8((8, 8))
    Image.fromarray(np.concatenate([rgb, alpha[..., None]], axis=2), "RGBA").save(
        tmp_path / "a.png"
    )
    white = FolderGenerator(tmp_path, alpha="white")
    got = white.images_for_seeds([0])[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, _composite(rgb, alpha, 255))
    assert white.describe()["alpha"] == "white"
    with pytest.raises(ValueError, match="alpha must be one of"):
        FolderGenerator(tmp_path, alpha="pink")


def test_one_pixel_image_sorting_first_is_refused_not_the_resolution(tmp_path):
    Image.fromarray(u8((1, 1, 3))).save(tmp_path / "0.png")
    for i in range(1, 4):
        Image.fromarray(u8((16, 16, 3))).save(tmp_path / f"{i}.png")
    with pytest.raises(BadImageError, match=r"min_size 8.*0\.png, 1x1"):
        FolderGenerator(tmp_path)
    skipping = FolderGenerator(tmp_path, skip_bad=True)
    assert skipping.resolution == 16 and skipping.skipped == ["0.png"]
    assert "min_size" in skipping.skip_reasons["0.png"]
    with pytest.warns(UpscaleWarning, match=r"1 of 4 images .* 16 px .* 0\.png, 1x1"):
        accepting = FolderGenerator(tmp_path, min_size=1)
    assert accepting.resolution == 16 and accepting.describe()["n_upscaled"] == 1


def test_working_resolution_rule():
    assert working_resolution([(64, 64), (1, 1), (64, 80), (32, 32)]) == 64
    assert working_resolution([(10, 12), (12, 12)]) == 12  # tie: the larger
    assert working_resolution([(300, 200), (200, 250), (128, 128)]) == 200


def test_zip_member_with_bad_crc_is_named_and_skipped(tmp_path):
    members = {f"s{i}.png": u8((8, 8, 3)) for i in range(3)}
    zpath = tmp_path / "s.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in members.items():
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, "PNG")
            zf.writestr(name, buf.getvalue())
    data = bytearray(zpath.read_bytes())
    with zipfile.ZipFile(zpath) as zf:
        info = zf.getinfo("s1.png")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size - 20] ^= 0xFF  # a byte inside s1.png's IDAT: CRC fails
    zpath.write_bytes(bytes(data))
    with pytest.raises(BadImageError, match=r"s\.zip!s1\.png"):
        FolderGenerator(zpath).images_for_seeds([0, 1, 2])
    g = FolderGenerator(zpath, skip_bad=True)
    assert g.skipped == ["s1.png"] and "CRC" in g.skip_reasons["s1.png"]
    np.testing.assert_array_equal(
        g.images_for_seeds([1])[0].permute(1, 2, 0).numpy(), members["s2.png"]
    )
