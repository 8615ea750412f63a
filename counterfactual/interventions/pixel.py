"""Pixel-space interventions: Gaussian blur or flat fill inside a face region, and a
synthetic hat occluder (``hat_occluder``; the learned latent hat edit is ``hat``).

Region edits follow the reference study (Kabra & Balakrishnan) by default: at 512x512, a
Gaussian blur of kernel 111 and sigma 100 (cv2.GaussianBlur, reflect-101 borders) of the whole
image, pasted inside the region's BiSeNet mask, a hard mask from the class map of the parser
run at its training resolution, 512 px (``parse_size``, `STUDY_PARSE_SIZE`), resized to the
image by nearest neighbour (exactly the map at a 512-px working resolution). Options:
``edges = "soft"`` smooths the mask's edge (Gaussian, sigma = res / 128; the landmark masks'
default), ``parse_size = 384`` reuses the scorers' faster class maps (README, "Face parsing":
they agree with the 512-px maps on 86% of pixels), ``masks = "landmarks"`` takes the masks
from the 106 landmarks instead; see `counterfactual.interventions.regions`.

At other working resolutions the blur is scaled proportionally, so that it covers the same
share of the face: sigma = 100 * res / 512, kernel = 111 * res / 512 rounded to the nearest
odd integer (at least 3); at 512 px this is exactly (100, 111). Edited pixels are composited
with the mask: out = mask * edited + (1 - mask) * image, so pixels where the mask is 0 keep
their exact values. Region FDs are normalised by the fully blurred set (``blur:all``) in
`counterfactual.sweep.region`.

The synthetic hat is drawn by us (flat-coloured polygons anchored on the landmarks), not
generated: it is labelled "hat (synthetic occluder)" with synthetic=True everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.interventions.base import Intervention, check_base_images, register_intervention
from counterfactual.interventions.regions import (
    HAT_LINE,
    LANDMARK_REGIONS,
    MASK_SOURCES,
    PARSING_REGIONS,
    REGIONS,
    FaceLandmarks,
    Landmarker,
    Parser,
    detect_landmarks,
    detect_parsing,
    parsing_masks,
    region_masks,
)

if TYPE_CHECKING:
    import torch

REFERENCE_RES, REFERENCE_SIGMA, REFERENCE_KERNEL = 512, 100.0, 111
#: The parser's input size for region masks by default: BiSeNet's training resolution, as the
#: study parsed its 512-px faces.
STUDY_PARSE_SIZE = 512
EDGES = ("hard", "soft")
#: Images edited at a time: every step is per image, so the float masks and composites of a
#: set never exist at once (memory O(chunk), not O(faces)).
EDIT_CHUNK = 64


def blur_params(resolution: int) -> tuple[float, int]:
    """(sigma, odd kernel size) scaled from the reference's (100, 111) at 512 px."""
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")
    scale = resolution / REFERENCE_RES
    k = REFERENCE_KERNEL * scale
    kernel = max(3, 2 * int(np.floor((k - 1) / 2 + 0.5)) + 1)
    return REFERENCE_SIGMA * scale, kernel


def gaussian_blur(images: torch.Tensor, sigma: float, kernel: int) -> torch.Tensor:
    """Blur every uint8 NCHW image with a (kernel x kernel) Gaussian (reflect-101 borders)."""
    import cv2
    import torch

    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {kernel}")
    arr = images.permute(0, 2, 3, 1).contiguous().numpy()
    out = (
        np.stack(
            [
                cv2.GaussianBlur(im, (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT_101)
                for im in arr
            ]
        )
        if len(arr)
        else arr.copy()
    )
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def composite(images: torch.Tensor, edited: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """uint8: mask * edited + (1 - mask) * images, rounded (mask float [N, 1, H, W] in [0, 1])."""
    import torch

    m = masks.to(torch.float64)
    out = m * edited.to(torch.float64) + (1 - m) * images.to(torch.float64)
    return out.round().clamp(0, 255).to(torch.uint8)


def _check_edges(edges: str | None, masks: str) -> str:
    """The mask edge: "hard" (the study's parsing masks) or "soft"; None: the source's default
    (hard for parsing masks, soft for landmark masks)."""
    if edges is None:
        return "hard" if masks == "parsing" else "soft"
    if edges not in EDGES:
        raise ValueError(f"edges must be one of {', '.join(EDGES)}, got {edges!r}")
    return edges


def _check_parse_size(parse_size: int) -> int:
    if isinstance(parse_size, bool) or int(parse_size) != parse_size:
        raise ValueError(f"parse_size must be an integer, got {parse_size!r}")
    if parse_size < 64 or parse_size % 32:
        raise ValueError(f"parse_size must be a multiple of 32 of at least 64, got {parse_size}")
    return int(parse_size)


def _check_region(region: str, masks: str) -> str:
    if masks not in MASK_SOURCES:
        raise ValueError(f"masks must be one of {', '.join(MASK_SOURCES)}, got {masks!r}")
    allowed = REGIONS if masks == "parsing" else LANDMARK_REGIONS
    if region not in allowed:
        raise ValueError(
            f"unknown region {region!r} for {masks} masks; allowed: {', '.join(allowed)}"
        )
    return region


class _RegionEdit(Intervention):
    """Shared plumbing: masks of one region on the base images, then composite an edit."""

    synthetic = False
    target_scorer = None
    verb = ""

    def __init__(
        self,
        region: str,
        landmarker: Landmarker | None = None,
        masks: str = "parsing",
        parser: Parser | None = None,
        edges: str | None = None,
        parse_size: int = STUDY_PARSE_SIZE,
    ) -> None:
        self.region = _check_region(region, masks)
        self.mask_source = masks
        self.edges = _check_edges(edges, masks)
        self.parse_size = _check_parse_size(parse_size)
        self.name = f"{self.verb}:{region}"
        self.landmarker = landmarker or detect_landmarks
        self.parser = parser or (lambda images: detect_parsing(images, self.parse_size))
        self.resolution: int | None = None
        self.last_landmarks_found: float | None = None  # fraction of faces detected

    def prepare(self, generator: Any, workdir: Any = None, progress: bool = False) -> None:
        self.resolution = int(generator.resolution)

    def masks(self, base_images: torch.Tensor) -> torch.Tensor:
        import torch

        n, _, h, w = base_images.shape
        if self.region == "all":
            self.last_landmarks_found = None
            return torch.ones(n, 1, h, w)
        if self.mask_source == "parsing":
            self.last_landmarks_found = None
            soft = self.edges == "soft"
            return parsing_masks(self.parser(base_images), self.region, (h, w), soft=soft)
        lm = self.landmarker(base_images)
        self.last_landmarks_found = float(np.mean(lm.found)) if len(lm) else None
        return region_masks(lm, self.region, soft=self.edges == "soft")

    def edit(self, base_images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        import torch

        base = check_base_images(base_images, seeds)
        if len(base) == 0:
            return base.clone()
        out = torch.empty_like(base)
        found: list[float] = []
        for i in range(0, len(base), EDIT_CHUNK):  # float masks and composites per chunk
            part = base[i : i + EDIT_CHUNK]
            masks = self.masks(part)
            if self.last_landmarks_found is not None:
                found.append(self.last_landmarks_found * len(part))
            out[i : i + len(part)] = composite(part, self.edit(part, masks), masks)
        self.last_landmarks_found = sum(found) / len(base) if found else None
        return out

    def _describe_mask(self) -> dict[str, Any]:
        source = {
            "parsing": f"{self.edges} mask from the BiSeNet face parsing at "
            f"{self.parse_size} px, classes " + "+".join(PARSING_REGIONS.get(self.region, ())),
            "landmarks": f"{self.edges} mask from 106-point landmarks",
        }[self.mask_source]
        return {
            "region": self.region,
            "masks": self.mask_source,
            "edges": self.edges,
            **({"parse_size": self.parse_size} if self.mask_source == "parsing" else {}),
            "mask": "every pixel"
            if self.region == "all"
            else f"{source} (counterfactual.interventions.regions)",
        }


class RegionBlur(_RegionEdit):
    """blur:<region>: Gaussian blur inside the region (strength scaled with resolution)."""

    verb = "blur"

    def __init__(
        self,
        region: str,
        sigma: float | None = None,
        kernel: int | None = None,
        landmarker: Landmarker | None = None,
        masks: str = "parsing",
        parser: Parser | None = None,
        edges: str | None = None,
        parse_size: int = STUDY_PARSE_SIZE,
    ) -> None:
        super().__init__(region, landmarker, masks, parser, edges, parse_size)
        if kernel is not None and (int(kernel) < 1 or int(kernel) % 2 == 0):
            raise ValueError(f"blur kernel must be a positive odd integer, got {kernel}")
        if sigma is not None and float(sigma) <= 0:
            raise ValueError(f"blur sigma must be positive, got {sigma}")
        self.sigma, self.kernel = sigma, kernel

    def params_for(self, resolution: int) -> tuple[float, int]:
        sigma, kernel = blur_params(resolution)
        return (
            float(self.sigma) if self.sigma is not None else sigma,
            int(self.kernel) if self.kernel is not None else kernel,
        )

    def edit(self, base_images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(base_images, *self.params_for(int(base_images.shape[-1])))

    def describe(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "kind": "region_blur",
            "synthetic": False,
            **self._describe_mask(),
            "sigma": self.sigma,
            "kernel": self.kernel,
            "scaling": "sigma = 100 * res / 512, kernel = 111 * res / 512 rounded to odd",
        }
        if self.resolution is not None:
            d["resolved"] = dict(
                zip(("sigma", "kernel"), self.params_for(self.resolution), strict=True)
            )
        return d


class RegionFill(_RegionEdit):
    """fill:<region>: flat colour inside the region ("mean": the region's own mean colour)."""

    verb = "fill"

    def __init__(
        self,
        region: str,
        color: str | Sequence[int] = "mean",
        landmarker: Landmarker | None = None,
        masks: str = "parsing",
        parser: Parser | None = None,
        edges: str | None = None,
        parse_size: int = STUDY_PARSE_SIZE,
    ) -> None:
        super().__init__(region, landmarker, masks, parser, edges, parse_size)
        if isinstance(color, str):
            if color != "mean":
                raise ValueError(f"fill color must be 'mean' or [r, g, b], got {color!r}")
        else:
            color = [int(c) for c in color]
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise ValueError(f"fill color must be three integers in 0..255, got {color!r}")
        self.color = color

    def edit(self, base_images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        import torch

        x = base_images.to(torch.float64)
        if self.color == "mean":
            w = masks.to(torch.float64)
            total = w.sum(dim=(2, 3)).clamp_min(1e-12)
            rgb = (x * w).sum(dim=(2, 3)) / total  # [N, 3]
        else:
            rgb = torch.tensor(self.color, dtype=torch.float64).expand(len(x), 3)
        return rgb[:, :, None, None].expand_as(x).round().to(torch.uint8)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "region_fill",
            "synthetic": False,
            **self._describe_mask(),
            "color": self.color,
        }


# -- synthetic hat ------------------------------------------------------------------------
HAT_SHAPES = ("beanie", "cap", "top_hat", "bucket")
HAT_COLORS: dict[str, tuple[int, int, int]] = {
    "navy": (30, 40, 90),
    "red": (170, 30, 35),
    "green": (30, 90, 45),
    "black": (25, 25, 28),
    "khaki": (190, 170, 120),
    "purple": (95, 50, 120),
    "orange": (220, 120, 30),
    "white": (225, 225, 220),
}


def _half_ellipse(
    cx: float, cy: float, rx: float, ry: float, upper: bool, n: int = 24
) -> np.ndarray:
    t = np.linspace(0, np.pi, n)
    sign = -1.0 if upper else 1.0
    return np.stack([cx + rx * np.cos(t), cy + sign * ry * np.sin(t)], axis=1)


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def hat_parts(shape: str, hw: float, brim: float) -> list[tuple[np.ndarray, str]]:
    """Polygons (face frame: x along the eye line, y down) and their colour role.

    `hw`: half the hat width; `brim`: y of the hat line. Nothing reaches below
    brim + 0.15 * hw (the cap's visor); every other shape stays above the brim line.
    """
    if shape == "beanie":
        return [
            (_half_ellipse(0, brim - 0.25 * hw, hw, 0.8 * hw, upper=True), "main"),
            (_rect(-1.02 * hw, 1.02 * hw, brim - 0.28 * hw, brim), "dark"),
            (_half_ellipse(0, brim - 1.02 * hw, 0.16 * hw, 0.16 * hw, upper=True), "light"),
            (_half_ellipse(0, brim - 1.02 * hw, 0.16 * hw, 0.12 * hw, upper=False), "light"),
        ]
    if shape == "cap":
        return [
            (_half_ellipse(0, brim, hw, 0.9 * hw, upper=True), "main"),
            (_half_ellipse(0, brim, 1.15 * hw, 0.15 * hw, upper=False), "dark"),
            (_rect(-0.04 * hw, 0.04 * hw, brim - 0.9 * hw, brim - 0.8 * hw), "dark"),
        ]
    if shape == "top_hat":
        return [
            (_rect(-0.72 * hw, 0.72 * hw, brim - 1.7 * hw, brim - 0.1 * hw), "main"),
            (_rect(-0.72 * hw, 0.72 * hw, brim - 0.45 * hw, brim - 0.12 * hw), "band"),
            (_rect(-1.25 * hw, 1.25 * hw, brim - 0.13 * hw, brim), "main"),
        ]
    if shape == "bucket":
        crown = np.array(
            [
                [-0.6 * hw, brim - 1.0 * hw],
                [0.6 * hw, brim - 1.0 * hw],
                [0.85 * hw, brim - 0.2 * hw],
                [-0.85 * hw, brim - 0.2 * hw],
            ]
        )
        brim_poly = np.array(
            [
                [-0.85 * hw, brim - 0.28 * hw],
                [0.85 * hw, brim - 0.28 * hw],
                [1.3 * hw, brim],
                [-1.3 * hw, brim],
            ]
        )
        return [(crown, "main"), (brim_poly, "dark")]
    raise ValueError(f"unknown hat shape {shape!r}; allowed: {', '.join(HAT_SHAPES)}")


def _palette(color: tuple[int, int, int]) -> dict[str, tuple[int, int, int]]:
    c = np.array(color, dtype=np.float64)
    dark = c * 0.6 if c.mean() > 60 else c + 60
    light = c + (255 - c) * 0.55
    band = np.array([200, 40, 40]) if c.mean() < 60 else c * 0.4
    as_int = lambda v: tuple(int(round(x)) for x in np.clip(v, 0, 255))  # noqa: E731
    return {"main": as_int(c), "dark": as_int(dark), "light": as_int(light), "band": as_int(band)}


def hat_choice(
    seed: int, shape: str | None = None, color: str | None = None
) -> tuple[str, str, float]:
    """(shape, colour name, width jitter) for a seed: deterministic, independent of the batch."""
    rng = np.random.RandomState(int(seed) % (2**32))
    s = HAT_SHAPES[rng.randint(len(HAT_SHAPES))]
    names = sorted(HAT_COLORS)
    c = names[rng.randint(len(names))]
    jitter = float(rng.uniform(0.95, 1.08))
    return shape or s, color or c, jitter


def draw_hat(
    image: np.ndarray, lm: FaceLandmarks, i: int, shape: str, color: str, jitter: float = 1.0
) -> np.ndarray:
    """Draw one hat on an HWC uint8 image (returns a copy), anchored on landmarks of face i."""
    import cv2

    cl, cr = lm.eye_centres(i)
    origin = (cl + cr) / 2
    ex = (cr - cl) / max(float(np.linalg.norm(cr - cl)), 1e-6)
    ey = np.array([-ex[1], ex[0]])
    eye_dist = float(np.linalg.norm(cr - cl))
    local_brows = (lm.brows[i] - origin) @ ey
    brim = float(local_brows.min()) - HAT_LINE * eye_dist
    face_w = float(np.ptp((lm.contour[i] - origin) @ ex))
    hw = 0.5 * 1.1 * face_w * jitter
    pal = _palette(HAT_COLORS[color])
    out = np.ascontiguousarray(image.copy())
    for poly, role in hat_parts(shape, hw, brim):
        pts = origin + poly[:, :1] * ex + poly[:, 1:] * ey
        pts = np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(out, [pts], pal[role], lineType=cv2.LINE_AA, shift=4)
    return out


class SyntheticHat(Intervention):
    """hat_occluder: a synthetic occluder drawn over the top of the head (shape/colour chosen by seed)."""

    synthetic = True
    target_scorer = None

    def __init__(
        self,
        shape: str | None = None,
        color: str | None = None,
        landmarker: Landmarker | None = None,
    ) -> None:
        if shape is not None and shape not in HAT_SHAPES:
            raise ValueError(f"unknown hat shape {shape!r}; allowed: {', '.join(HAT_SHAPES)}")
        if color is not None and color not in HAT_COLORS:
            raise ValueError(
                f"unknown hat color {color!r}; allowed: {', '.join(sorted(HAT_COLORS))}"
            )
        self.name = "hat_occluder"
        self.shape, self.color = shape, color
        self.landmarker = landmarker or detect_landmarks
        self.last_landmarks_found: float | None = None

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        import torch

        base = check_base_images(base_images, seeds)
        if len(base) == 0:
            return base.clone()
        lm = self.landmarker(base)
        self.last_landmarks_found = float(np.mean(lm.found))
        arr = base.permute(0, 2, 3, 1).contiguous().numpy()
        out = [
            draw_hat(arr[i], lm, i, *hat_choice(s, self.shape, self.color))
            for i, s in enumerate(seeds)
        ]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()

    def describe(self) -> dict[str, Any]:
        return {
            "name": "hat (synthetic occluder)",
            "config_name": "hat_occluder",
            "kind": "synthetic_occluder",
            "synthetic": True,
            "shape": self.shape or f"by seed from {list(HAT_SHAPES)}",
            "color": self.color or f"by seed from {sorted(HAT_COLORS)}",
            "anchor": f"landmarks; brim {HAT_LINE} eye distances above the brows",
            "note": "pixel-space occluder drawn by counterfactual.interventions.pixel, not generated",
        }


def make_blur(
    region: str,
    *,
    sigma: float | None = None,
    kernel: int | None = None,
    masks: str = "parsing",
    edges: str | None = None,
    parse_size: int = STUDY_PARSE_SIZE,
) -> RegionBlur:
    """blur:<region>: params sigma and kernel override the resolution-scaled defaults;
    masks = "parsing" (default) or "landmarks"; edges = "hard" (parsing default) or "soft";
    parse_size: the parser's input size for the masks (default 512, the study's)."""
    return RegionBlur(
        region, sigma=sigma, kernel=kernel, masks=masks, edges=edges, parse_size=parse_size
    )


def make_fill(
    region: str,
    *,
    color: str | Sequence[int] = "mean",
    masks: str = "parsing",
    edges: str | None = None,
    parse_size: int = STUDY_PARSE_SIZE,
) -> RegionFill:
    """fill:<region>: param color ("mean" or [r, g, b]); masks, edges and parse_size as blur."""
    return RegionFill(region, color=color, masks=masks, edges=edges, parse_size=parse_size)


register_intervention("blur", make_blur, prefix=True, arg_help="region")
register_intervention("fill", make_fill, prefix=True, arg_help="region")
