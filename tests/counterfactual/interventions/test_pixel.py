"""Pixel interventions and region masks on stand-in landmarks (no detector needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from counterfactual.interventions import build_intervention
from counterfactual.interventions.pixel import (
    HAT_SHAPES,
    RegionBlur,
    RegionFill,
    SyntheticHat,
    blur_params,
    composite,
    gaussian_blur,
    hat_parts,
)
from counterfactual.interventions.regions import (
    LANDMARK_REGIONS,
    PARSING_REGIONS,
    REGIONS,
    FaceLandmarks,
    hat_line,
    parsing_masks,
    region_masks,
)

ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def canonical(images: torch.Tensor) -> FaceLandmarks:
    """Stand-in landmarker: the ArcFace template scaled to the image (a frontal aligned face)."""
    n, size = len(images), int(images.shape[-1])
    return FaceLandmarks.from_kps5(np.repeat(ARCFACE_112[None] * size / 112, n, 0), size)


def _faces(n=3, size=64, seed=0):
    rng = np.random.RandomState(seed)
    return torch.from_numpy(rng.randint(0, 256, (n, 3, size, size)).astype(np.uint8))


def _reference_blur(img: np.ndarray, sigma: float, k: int) -> np.ndarray:
    """Separable Gaussian from the closed form, reflect-101 borders (numpy 'reflect')."""
    r = k // 2
    x = np.arange(-r, r + 1)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    p = np.pad(img.astype(np.float64), ((0, 0), (r, r), (r, r)), mode="reflect")
    rows = sum(g[i] * p[:, i : i + img.shape[1], :] for i in range(k))
    return sum(g[i] * rows[:, :, i : i + img.shape[2]] for i in range(k))


def test_blur_params_scale_with_resolution():
    assert blur_params(512) == (100.0, 111)
    assert blur_params(64) == (12.5, 13)
    for res in (32, 64, 100, 128, 256, 300, 1024):
        sigma, k = blur_params(res)
        assert sigma == pytest.approx(100 * res / 512)
        assert k % 2 == 1 and abs(k - 111 * res / 512) <= 1.0


def test_gaussian_blur_matches_closed_form():
    img = _faces(1, 24)
    out = gaussian_blur(img, 3.0, 9)[0].numpy().astype(np.float64)
    ref = _reference_blur(img[0].numpy(), 3.0, 9)
    assert np.abs(out - ref).max() <= 1.0


def test_blur_inside_mask_only():
    img = _faces(2, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:20, 10:24] = 1.0
    mask[:, :, 7, 10:24] = 0.5  # a soft edge
    out = composite(img, gaussian_blur(img, *blur_params(32)), mask)
    outside = (mask == 0).expand_as(img)
    assert torch.equal(out[outside], img[outside])
    inside = (mask == 1).expand_as(img)
    assert (out[inside] != img[inside]).float().mean() > 0.8


def test_masks_cover_their_landmarks():
    img = _faces(2, 64)
    lm = canonical(img)
    s = 64 / 112
    pt = lambda x, y: (int(round(y * s)), int(round(x * s)))  # noqa: E731  (row, col)
    eye_l, eye_r, nose, mouth = pt(38.3, 51.7), pt(73.5, 51.5), pt(56.0, 71.7), pt(56.1, 92.3)
    cheek, top, corner = pt(30, 75), pt(56, 3), pt(2, 110)
    m = {r: region_masks(lm, r)[0, 0].numpy() for r in LANDMARK_REGIONS}
    for r, yes, no in [
        ("eyes", [eye_l, eye_r], [nose, mouth, top]),
        ("nose", [nose], [eye_l, mouth]),
        ("mouth", [mouth], [nose, eye_r]),
        ("skin", [cheek], [eye_l, mouth, top, corner]),
        ("hair", [top], [eye_l, nose, mouth]),
        ("hat", [top], [eye_l, nose]),
        ("background", [corner], [nose, cheek, eye_l]),
    ]:
        for p in yes:
            assert m[r][p] == 1.0, (r, p)
        for p in no:
            assert m[r][p] == 0.0, (r, p)
    assert (m["all"] == 1).all()
    for r in LANDMARK_REGIONS[:-1]:
        assert 0 <= m[r].min() and m[r].max() <= 1
        assert ((m[r] > 0) & (m[r] < 1)).any(), f"{r} has no soft edge"
    line = hat_line(lm, 0)
    assert (m["hat"][int(np.ceil(line)) + 3 :] == 0).all()


@pytest.mark.parametrize("region", ["eyes", "skin", "background"])
def test_region_blur_intervention_changes_region_only(region):
    img = _faces(3, 64)
    edit = RegionBlur(region, landmarker=canonical, masks="landmarks")
    twins = edit.counterfactual(None, [0, 1, 2], img)
    mask = region_masks(canonical(img), region)
    outside = (mask == 0).expand_as(img)
    assert torch.equal(twins[outside], img[outside])
    inside = (mask == 1).expand_as(img)
    assert (twins[inside] != img[inside]).float().mean() > 0.8
    assert edit.describe()["region"] == region


def test_fill_uses_region_mean_or_colour():
    img = _faces(2, 64)
    twins = RegionFill("mouth", landmarker=canonical, masks="landmarks").counterfactual(
        None, [0, 1], img
    )
    mask = region_masks(canonical(img), "mouth")
    full = (mask == 1).expand_as(img)
    for i in range(2):
        w = mask[i].double()
        expected = ((img[i].double() * w).sum((1, 2)) / w.sum()).round()
        vals = twins[i][full[i]].view(3, -1)
        assert torch.equal(vals, expected.to(torch.uint8)[:, None].expand_as(vals))
    red = RegionFill("all", color=[255, 0, 0]).counterfactual(None, [0, 1], img)
    assert (red[:, 0] == 255).all() and (red[:, 1:] == 0).all()


def _label_maps(n: int, size: int = 96) -> np.ndarray:
    """Constructed parsing maps: background, a skin block with eyes, nose and mouth, hair on top."""
    from extractors.face.parsing import CLASS_INDEX as C

    m = np.zeros((n, size, size), np.uint8)
    m[:, 20:80, 25:71] = C["skin"]
    m[:, 5:20, 20:76] = C["hair"]
    m[:, 35:40, 32:42] = C["eye_l"]
    m[:, 35:40, 54:64] = C["eye_r"]
    m[:, 45:58, 44:52] = C["nose"]
    m[:, 63:68, 38:58] = C["lip_u"]
    m[:, 68:72, 38:58] = C["lip_l"]
    return m


def test_parsing_masks_follow_the_class_map_at_any_resolution():
    labels = _label_maps(2)
    for size in (48, 96, 192):
        k = size / 96
        m = {r: parsing_masks(labels, r, (size, size))[:, 0].numpy() for r in REGIONS}
        at = lambda r, y, x: m[r][0, int(y * k), int(x * k)]  # noqa: E731
        assert at("eyes", 37, 36) > 0.5 and at("eyes", 50, 48) == 0
        assert at("mouth", 66, 48) > 0.5 and at("mouth", 70, 48) > 0.5 and at("mouth", 50, 48) == 0
        assert min(at("hair", 10, 48), at("skin", 30, 30), at("background", 90, 5)) > 0.999
        assert (m["hat"] == 0).all() and (m["ears"] == 0).all() and (m["all"] == 1).all()
        area = m["eyes"][0].sum() / size**2
        assert area == pytest.approx(2 * 5 * 10 / 96**2, rel=0.1)  # scale-free area
    hard = parsing_masks(labels, "nose", (96, 96), soft=False)[0, 0].numpy()
    assert hard.sum() == 13 * 8
    with pytest.raises(ValueError, match="unknown region 'chin'"):
        parsing_masks(labels, "chin", (96, 96))
    assert set(PARSING_REGIONS) | {"all"} == set(REGIONS)


def test_region_blur_uses_parsing_masks_by_default():
    img = _faces(2, 96)
    labels = _label_maps(2)
    edit = RegionBlur("mouth", parser=lambda images: labels)
    twins = edit.counterfactual(None, [0, 1], img)
    mask = parsing_masks(labels, "mouth", (96, 96))
    outside = (mask == 0).expand_as(img)
    assert torch.equal(twins[outside], img[outside])
    inside = (mask > 0.9).expand_as(img)
    assert inside.any() and (twins[inside] != img[inside]).float().mean() > 0.8
    assert edit.describe()["masks"] == "parsing" and "lip_u" in edit.describe()["mask"]
    with pytest.raises(ValueError, match="for landmarks masks; allowed: eyes, nose"):
        RegionBlur("ears", masks="landmarks")
    with pytest.raises(ValueError, match="masks must be one of parsing, landmarks"):
        RegionBlur("ears", masks="guess")


def test_synthetic_hat_deterministic_per_seed_and_upper_only():
    img = _faces(6, 64, seed=3)
    hat = SyntheticHat(landmarker=canonical)
    seeds = [10, 11, 12, 13, 14, 15]
    a = hat.counterfactual(None, seeds, img)
    b = hat.counterfactual(None, seeds, img)
    assert torch.equal(a, b)
    alone = hat.counterfactual(None, seeds[2:3], img[2:3])  # batch-independent
    assert torch.equal(alone[0], a[2])
    lm = canonical(img)
    eye_top = int(np.floor(lm.eyes[0][:, 1].min()))
    assert torch.equal(a[:, :, eye_top:], img[:, :, eye_top:])  # nothing at or below the eyes
    assert ((a[:, :, :eye_top] != img[:, :, :eye_top]).float().mean(dim=(1, 2, 3)) > 0.1).all()
    different_seed = hat.counterfactual(None, [99, 11, 12, 13, 14, 15], img)
    assert not torch.equal(different_seed[0], a[0])
    d = hat.describe()
    assert d["synthetic"] is True and hat.synthetic and d["name"] == "hat (synthetic occluder)"
    with pytest.raises(ValueError, match="allowed: beanie, cap, top_hat, bucket"):
        SyntheticHat(shape="sombrero")


@pytest.mark.parametrize("shape", HAT_SHAPES)
def test_hat_shapes_stay_above_documented_bound(shape):
    hw, brim = 10.0, -5.0
    lowest = max(poly[:, 1].max() for poly, _ in hat_parts(shape, hw, brim))
    assert lowest <= brim + 0.15 * hw + 1e-9


def test_landmarks_from_106_points_groups():
    pts = np.random.RandomState(0).rand(2, 106, 2) * 64
    groups = {
        "contour": range(0, 33),
        "eye_l": range(33, 43),
        "brow_l": range(43, 52),
        "mouth": range(52, 72),
        "nose": range(72, 87),
        "eye_r": range(87, 97),
        "brow_r": range(97, 106),
    }
    lm = FaceLandmarks.from_points(pts, groups, 64)
    np.testing.assert_array_equal(lm.eye_r, pts[:, 87:97])
    assert lm.brows.shape == (2, 18, 2)
    with pytest.raises(KeyError, match="eye_r"):
        FaceLandmarks.from_points(pts, {k: v for k, v in groups.items() if k != "eye_r"}, 64)


def test_blur_all_needs_no_landmarks():
    img = _faces(2, 32)
    twins = build_intervention("blur:all").counterfactual(None, [0, 1], img)
    assert torch.equal(twins, gaussian_blur(img, *blur_params(32)))


def _study_reference(img: np.ndarray, inside: np.ndarray, res: int) -> np.ndarray:
    """The study's region blur from scipy: Gaussian of sigma 100 and kernel 111 (radius 55)
    at 512 px, scaled to `res`, mirror (reflect-101) borders, pasted inside a hard mask."""
    from scipy.ndimage import gaussian_filter

    sigma, radius = 100.0 * res / 512, int(round(111 * res / 512)) // 2
    x = img.astype(np.float64)  # CHW
    blurred = gaussian_filter(x, sigma=(0, sigma, sigma), radius=(0, radius, radius), mode="mirror")
    return np.where(inside[None], blurred, x)


@pytest.mark.parametrize("res", [512, 256])
def test_region_blur_is_the_study_blur_against_scipy(res):
    """blur:<region> by default = the study's: kernel 111, sigma 100 at 512 px (scaled at other
    working resolutions), inside the hard BiSeNet mask; within 1/255 of scipy's Gaussian."""
    rng = np.random.RandomState(res)
    yy, xx = np.mgrid[0:res, 0:res] / res
    smooth = 120 + 80 * np.sin(6 * xx)[None] * np.cos(4 * yy)[None]
    img = np.clip(smooth + rng.normal(0, 30, (3, res, res)), 0, 255).astype(np.uint8)
    labels = np.zeros((1, 512, 512), np.uint8)  # the parser's map at 512 px
    from extractors.face.parsing_classes import CLASS_INDEX

    labels[0, 180:230, 120:220] = CLASS_INDEX["eye_l"]
    labels[0, 180:230, 300:400] = CLASS_INDEX["eye_r"]
    labels[0, 330:390, 190:330] = CLASS_INDEX["lip_u"]
    calls = []
    edit = build_intervention("blur:eyes")
    edit.parser = lambda images: calls.append(images.shape) or labels
    twin = edit.counterfactual(None, [0], torch.from_numpy(img[None]))[0].numpy()
    step = 512 // res
    inside = np.isin(labels[0, ::step, ::step], [CLASS_INDEX["eye_l"], CLASS_INDEX["eye_r"]])
    ref = _study_reference(img, inside, res)
    err = np.abs(twin.astype(np.float64) - ref)
    assert err.max() <= 1.05 and err.mean() < 0.3  # uint8 output: 1/255 of the range
    assert np.array_equal(twin[:, ~inside], img[:, ~inside])  # hard mask: the rest untouched
    assert np.abs(twin[:, inside].astype(float) - img[:, inside]).mean() > 10  # a real blur
    d = edit.describe()
    assert (d["edges"], d["parse_size"]) == ("hard", 512) and d["kernel"] is None
    assert edit.params_for(res) == (100.0 * res / 512, 111 if res == 512 else 55)


def test_every_study_region_is_available_and_parsed_at_512(monkeypatch):
    import counterfactual.interventions.pixel as pixel

    sizes = []
    monkeypatch.setattr(
        pixel, "detect_parsing", lambda images, size=None: sizes.append(size) or _label_maps(1)
    )
    img = _faces(1, 96)
    for region in (
        "eyes", "nose", "mouth", "hair", "hat", "skin", "background", "ears", "neck", "all"
    ):  # fmt: skip
        edit = build_intervention(f"blur:{region}")
        assert edit.name == f"blur:{region}" and edit.edges == "hard"
        edit.counterfactual(None, [0], img)
    assert sizes == [512] * 9  # "all" needs no parsing
    soft = build_intervention("blur:eyes", edges="soft", parse_size=384)
    soft.counterfactual(None, [0], img)
    assert sizes[-1] == 384 and soft.describe()["edges"] == "soft"
    with pytest.raises(ValueError, match="edges must be one of hard, soft"):
        build_intervention("blur:eyes", edges="fuzzy")
    with pytest.raises(ValueError, match="multiple of 32"):
        build_intervention("blur:eyes", parse_size=500)
    assert build_intervention("blur:eyes", masks="landmarks").edges == "soft"
