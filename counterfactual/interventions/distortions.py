"""Global pixel distortions with a strength (the face-feature study's suite, Cetin et al.).

Each distortion is one registry entry; its strength is one named parameter (`strength_param`):

    flip:vertical / flip:horizontal  upside down / mirrored (no strength)
    rotate    degrees    counter-clockwise about the image centre (bilinear, reflected borders)
    shift     pixels     translation to the right (bilinear, replicated border; a control)
    erase     n          n square patches of side `size` (fraction of the image side) filled with
                         grey level `fill`, placed uniformly inside the image (seeded per face)
    swirl     strength   radians of twist at the centre, decaying with radius (skimage's swirl;
                         `radius` is a fraction of the image side)
    puzzle    k          k x k tiles shuffled (seeded per face, never the identity for k >= 2);
                         rows/columns beyond k * (side // k) stay in place
    noise     sigma      additive Gaussian noise, grey levels (0-255), seeded per face
    jpeg      quality    JPEG re-encoding quality 1..100 (OpenCV, 4:2:0 chroma)
    resample  factor     down-sampled by `factor` (area) and up again (bilinear); 1 = identity

Randomness is drawn per face from SeedSequence([seed, face seed, crc32(distortion name)]):
a twin depends on its own face's seed only (never on its batch position), and strengths of
one distortion share their random numbers (erase@4's first two patches are erase@2's, noise
@4 is noise@2 doubled before rounding). Images are uint8 NCHW of any resolution.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.interventions.base import Intervention, check_base_images, register_intervention

if TYPE_CHECKING:  # torch and OpenCV load when a distortion runs, not when a config is checked
    import torch

Apply = Callable[..., np.ndarray]  # (HWC uint8 image, rng, **params) -> HWC uint8
BORDERS = ("reflect", "replicate", "constant")


def _cv2() -> Any:
    import cv2

    return cv2


def _border(name: str) -> int:
    cv2 = _cv2()
    return {
        "reflect": cv2.BORDER_REFLECT_101,
        "replicate": cv2.BORDER_REPLICATE,
        "constant": cv2.BORDER_CONSTANT,
    }[name]


# -- parameter checks (each returns the normalised value or raises ValueError) -----------------
def _number(
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_open: bool = False,
) -> Callable[[str, Any], float | int]:
    def check(name: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if integer and float(value) != int(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        v = int(value) if integer else float(value)
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")
        too_low = low is not None and (v <= low if low_open else v < low)
        if too_low or (high is not None and v > high):
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            raise ValueError(
                f"{name} must be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}"
            )
        return v

    return check


def _choice(options: Sequence[str]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ValueError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


@dataclass(frozen=True)
class Param:
    """One parameter of a distortion: default, unit (for describe / README), check."""

    default: Any
    unit: str
    check: Callable[[str, Any], Any]


@dataclass(frozen=True)
class DistortionSpec:
    """A registered distortion: how it applies to one image and its parameters."""

    name: str
    apply: Apply
    strength: str | None  # the parameter that sets the strength (None: none)
    params: dict[str, Param] = field(default_factory=dict)
    seeded: bool = False  # draws random numbers (seeded per face)
    summary: str = ""


# -- the distortions on one HWC uint8 image ---------------------------------------------------
def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _centre(image: np.ndarray) -> tuple[float, float]:
    h, w = image.shape[:2]
    return (w - 1) / 2.0, (h - 1) / 2.0


def _warp(image: np.ndarray, matrix: np.ndarray, border: str) -> np.ndarray:
    h, w = image.shape[:2]
    cv2 = _cv2()
    return cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=_border(border),
        borderValue=(0, 0, 0),
    )


def flip_vertical(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image[::-1].copy()


def flip_horizontal(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return image[:, ::-1].copy()


def rotate(
    image: np.ndarray, rng: np.random.Generator, *, degrees: float, border: str
) -> np.ndarray:
    """Counter-clockwise (as displayed) about the pixel-grid centre ((w-1)/2, (h-1)/2)."""
    return _warp(image, _cv2().getRotationMatrix2D(_centre(image), float(degrees), 1.0), border)


def shift(image: np.ndarray, rng: np.random.Generator, *, pixels: float, border: str) -> np.ndarray:
    """Content moved `pixels` to the right (negative: left)."""
    return _warp(image, np.array([[1.0, 0.0, float(pixels)], [0.0, 1.0, 0.0]]), border)


def erase(
    image: np.ndarray, rng: np.random.Generator, *, n: int, size: float, fill: int
) -> np.ndarray:
    """n square patches of side max(1, round(size * min(h, w))) set to grey level `fill`."""
    h, w = image.shape[:2]
    s = min(max(1, int(round(size * min(h, w)))), h, w)
    out = image.copy()
    for _ in range(int(n)):
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        out[y : y + s, x : x + s] = fill
    return out


def swirl(
    image: np.ndarray, rng: np.random.Generator, *, strength: float, radius: float
) -> np.ndarray:
    """skimage.transform.swirl about the centre; `radius` in fractions of the shorter side."""
    from skimage.transform import swirl as sk_swirl

    out = sk_swirl(
        image,
        center=_centre(image),
        strength=float(strength),
        radius=float(radius) * min(image.shape[:2]),
        order=1,
        mode="reflect",
        preserve_range=True,
    )
    return _to_uint8(out)


def puzzle(image: np.ndarray, rng: np.random.Generator, *, k: int) -> np.ndarray:
    """k x k tiles of side (h // k, w // k) in a random order (not the identity for k >= 2)."""
    h, w = image.shape[:2]
    k = int(k)
    if k > min(h, w):
        raise ValueError(f"puzzle k = {k} exceeds the image side {min(h, w)}")
    if k == 1:
        return image.copy()
    th, tw = h // k, w // k
    tiles = [
        image[r * th : (r + 1) * th, c * tw : (c + 1) * tw] for r in range(k) for c in range(k)
    ]
    order = rng.permutation(k * k)
    while np.array_equal(order, np.arange(k * k)):
        order = rng.permutation(k * k)
    out = image.copy()
    for dest, src in enumerate(order):
        r, c = divmod(dest, k)
        out[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = tiles[src]
    return out


def noise(image: np.ndarray, rng: np.random.Generator, *, sigma: float) -> np.ndarray:
    """image + sigma * N(0, 1) per pixel and channel, rounded and clipped to 0..255."""
    z = rng.standard_normal(image.shape)
    return _to_uint8(image.astype(np.float64) + float(sigma) * z)


def jpeg(image: np.ndarray, rng: np.random.Generator, *, quality: int) -> np.ndarray:
    """Encode as JPEG at `quality` (OpenCV / libjpeg) and decode."""
    cv2 = _cv2()
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def resample(image: np.ndarray, rng: np.random.Generator, *, factor: float) -> np.ndarray:
    """Down to round(side / factor) (area average), back up to the side (bilinear)."""
    h, w = image.shape[:2]
    small = (max(1, int(round(w / factor))), max(1, int(round(h / factor))))
    if small == (w, h):
        return image.copy()
    cv2 = _cv2()
    down = cv2.resize(np.ascontiguousarray(image), small, interpolation=cv2.INTER_AREA)
    return cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)


_BORDER = Param("reflect", "cv2 border mode", _choice(BORDERS))
FLIPS: dict[str, DistortionSpec] = {
    "vertical": DistortionSpec("flip:vertical", flip_vertical, None, summary="upside down"),
    "horizontal": DistortionSpec(
        "flip:horizontal", flip_horizontal, None, summary="mirrored left-right"
    ),
}
STRENGTH_SPECS: dict[str, DistortionSpec] = {
    spec.name: spec
    for spec in (
        DistortionSpec(
            "rotate",
            rotate,
            "degrees",
            {
                "degrees": Param(10.0, "degrees, counter-clockwise", _number(-360, 360)),
                "border": _BORDER,
            },
            summary="rotation about the image centre",
        ),
        DistortionSpec(
            "shift",
            shift,
            "pixels",
            {
                "pixels": Param(1.0, "pixels to the right", _number()),
                "border": Param("replicate", "cv2 border mode", _choice(BORDERS)),
            },
            summary="translation (a control)",
        ),
        DistortionSpec(
            "erase",
            erase,
            "n",
            {
                "n": Param(4, "patches", _number(0, integer=True)),
                "size": Param(0.1, "patch side / image side", _number(0, 1, low_open=True)),
                "fill": Param(0, "grey level 0..255", _number(0, 255, integer=True)),
                "seed": Param(0, "seed", _number(0, 2**32 - 1, integer=True)),
            },
            seeded=True,
            summary="random erasing of square patches",
        ),
        DistortionSpec(
            "swirl",
            swirl,
            "strength",
            {
                "strength": Param(2.0, "radians at the centre", _number()),
                "radius": Param(0.5, "fraction of the image side", _number(0, low_open=True)),
            },
            summary="swirl about the image centre",
        ),
        DistortionSpec(
            "puzzle",
            puzzle,
            "k",
            {
                "k": Param(2, "tiles per side", _number(1, integer=True)),
                "seed": Param(0, "seed", _number(0, 2**32 - 1, integer=True)),
            },
            seeded=True,
            summary="k x k tile shuffle",
        ),
        DistortionSpec(
            "noise",
            noise,
            "sigma",
            {
                "sigma": Param(8.0, "grey levels (0..255)", _number(0)),
                "seed": Param(0, "seed", _number(0, 2**32 - 1, integer=True)),
            },
            seeded=True,
            summary="additive Gaussian noise",
        ),
        DistortionSpec(
            "jpeg",
            jpeg,
            "quality",
            {"quality": Param(30, "JPEG quality 1..100", _number(1, 100, integer=True))},
            summary="JPEG compression",
        ),
        DistortionSpec(
            "resample",
            resample,
            "factor",
            {"factor": Param(2.0, "down-sampling factor (>= 1)", _number(1))},
            summary="down- and up-sampling",
        ),
    )
}
SPECS: dict[str, DistortionSpec] = {**{s.name: s for s in FLIPS.values()}, **STRENGTH_SPECS}


def face_rng(name: str, seed: int, face_seed: int) -> np.random.Generator:
    """The random numbers of one face: from (seed, face seed, distortion name) only."""
    salt = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(face_seed) % 2**64, salt]))


class Distortion(Intervention):
    """A global pixel distortion applied face by face (see the module docstring)."""

    synthetic = False
    target_scorer = None
    verify_parsing = True  # verification records face-parsing agreement twin vs base

    def __init__(self, spec: DistortionSpec, **params: Any) -> None:
        unknown = sorted(set(params) - set(spec.params))
        if unknown:
            raise ValueError(
                f"intervention {spec.name!r}: unknown parameter(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(spec.params) or 'none'}"
            )
        self.spec = spec
        self.name = spec.name
        self.params = {
            k: p.check(f"{spec.name} {k}", params.get(k, p.default)) for k, p in spec.params.items()
        }

    @property
    def strength_param(self) -> str | None:
        """The parameter that sets the strength (None for flips)."""
        return self.spec.strength

    @property
    def strength(self) -> Any:
        return None if self.spec.strength is None else self.params[self.spec.strength]

    def apply(self, image: np.ndarray, face_seed: int) -> np.ndarray:
        """One HWC uint8 image of the face with seed `face_seed`."""
        seed = self.params.get("seed", 0)
        args = {k: v for k, v in self.params.items() if k != "seed"}
        return self.spec.apply(image, face_rng(self.spec.name, seed, face_seed), **args)

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        if seeds is None:
            raise ValueError(
                f"{self.name}: the face seeds are required (randomness is seeded per face)"
            )
        base = check_base_images(base_images, seeds)
        if len(base) == 0:
            return base.clone()
        arr = base.permute(0, 2, 3, 1).contiguous().numpy()
        out = np.stack([self.apply(arr[i], int(s)) for i, s in enumerate(seeds)])
        import torch

        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": "distortion",
            "synthetic": False,
            "distortion": self.spec.summary,
            "params": dict(self.params),
        }
        if self.spec.strength is not None:
            d["strength"] = {
                "param": self.spec.strength,
                "value": self.strength,
                "unit": self.spec.params[self.spec.strength].unit,
            }
        if self.spec.seeded:
            d["seeding"] = "per face: SeedSequence([seed, face seed, crc32(name)])"
        return d


def _factory(spec: DistortionSpec) -> Callable[..., Distortion]:
    """build_intervention's factory for `spec`, with a signature naming its parameters."""

    def make(**params: Any) -> Distortion:
        return Distortion(spec, **params)

    make.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=p.default)
            for k, p in spec.params.items()
        ]
    )
    make.__doc__ = f"{spec.name}: {spec.summary}"
    return make


def make_flip(axis: str) -> Distortion:
    """flip:<axis>: axis "vertical" (upside down) or "horizontal" (mirrored)."""
    if axis not in FLIPS:
        raise ValueError(f"unknown flip axis {axis!r}; allowed: {', '.join(FLIPS)}")
    return Distortion(FLIPS[axis])


register_intervention("flip", make_flip, prefix=True, arg_help="vertical|horizontal")
for _spec in STRENGTH_SPECS.values():
    register_intervention(_spec.name, _factory(_spec))
