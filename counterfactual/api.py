"""One-call entry points for Python; the CLI's commands wrap them (`counterfactual fd` is `fd`).

    import counterfactual
    r = counterfactual.fd("dcgan-digiface", "folder:/data/faces", space="inception-fid", n=1000)
    r.value, r.mean_term, r.trace_term          # float(r) == r.value

Importing this module is light (numpy only); torch and the networks load when `fd` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from counterfactual.errors import ParameterError, UserError

if TYPE_CHECKING:
    import torch

    from counterfactual.metrics import FDResult

# A generator spec, a path to a folder/.zip of images, uint8 images [N, 3, H, W] (numpy or
# torch) or precomputed features [N, dim].
Source = Union[str, "os.PathLike[str]", np.ndarray, "torch.Tensor"]


@dataclass(frozen=True)
class FDComparison:
    """FD(A, B) in one feature space and what was compared; ``float(r)`` is the FD.

    `result` is `counterfactual.metrics.FDResult` (value = mean_term + trace_term, the
    covariance ranks and the route); `space` is None when A and B were feature arrays."""

    result: FDResult
    space: str | None
    space_label: str | None
    trained: bool | None
    n_a: int
    n_b: int
    notes: tuple[str, ...] = ()  # skipped folder files, faces framed without a detection

    @property
    def value(self) -> float:
        return self.result.value

    @property
    def mean_term(self) -> float:
        return self.result.mean_term

    @property
    def trace_term(self) -> float:
        return self.result.trace_term

    @property
    def rank_deficient(self) -> bool:
        """A covariance below full rank (too few images for the dimension, or constant
        features): compare such FDs only at equal n."""
        return min(self.result.rank1, self.result.rank2) < self.result.dim

    def __float__(self) -> float:
        return self.result.value

    def as_dict(self) -> dict[str, Any]:
        """What `counterfactual fd --json` prints (besides the sources and seeds)."""
        return {
            "space": self.space,
            "space_label": self.space_label,
            "trained": self.trained,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "fd": self.value,
            "mean_term": self.mean_term,
            "trace_term": self.trace_term,
            "method": self.result.method,
        }


def _array(value: Any) -> np.ndarray | None:
    """`value` as a numpy array when it is one (or a torch tensor), else None."""
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return None


def _check_images(images: np.ndarray, side: str) -> np.ndarray:
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
        raise UserError(
            f"{side}: images must be uint8 [N, 3, H, W], got {images.dtype} "
            f"{list(images.shape)} (features are 2-D [N, dim], with space=None)"
        )
    if len(images) < 2:
        raise UserError(f"{side}: the FD needs at least 2 images, got {len(images)}")
    return images


def _check_features(features: np.ndarray | None, value: Any, side: str) -> np.ndarray:
    got = (
        f"{type(value).__name__}"
        if features is None
        else f"{features.dtype} {list(features.shape)}"
    )
    if (
        features is None
        or features.ndim != 2
        or len(features) < 2
        or not np.issubdtype(features.dtype, np.number)
    ):
        raise UserError(
            f"{side}: with space=None, A and B are precomputed features [N, dim] "
            f"(N >= 2), got {got}"
        )
    return features


def _generated(
    value: str | os.PathLike[str],
    side: str,
    start: int,
    n: int,
    *,
    device: str,
    batch_size: int,
    progress: bool,
    folder_options: dict[str, Any],
    align: str | None,
    notes: list[str],
) -> Any:
    """`n` images (fewer if a folder holds fewer) from seed / file index `start` of a source;
    what was skipped or framed without a detected face is appended to `notes`."""
    import generators

    spec = generators.as_spec(value)
    try:
        generators.lookup(spec)
    except ValueError as exc:
        raise UserError(f"{side}: {exc}") from None
    options = folder_options if spec.partition(":")[0] == "folder" else {}
    generator = generators.load_generator(spec, device=device, align=align, **options)
    for name in getattr(generator, "skipped", []):
        notes.append(f"{os.fspath(value)}: skipped {name}: {generator.skip_reasons.get(name, '')}")
    if hasattr(generator, "__len__"):
        n = min(n, len(generator) - start)
        if n < 2:
            raise UserError(
                f"{side} {os.fspath(value)}: fewer than 2 images from seed {start} "
                f"(it holds {len(generator)})"
            )
    images = generator.images_for_seeds(
        list(range(start, start + n)), batch_size=batch_size, progress=progress
    )
    fallback = getattr(generator, "last_fallback_seeds", None)
    if fallback:
        notes.append(
            f"{os.fspath(value)}: no face detected in {len(fallback)} of {n} images, "
            "framed from the canonical landmarks (seeds "
            f"{', '.join(map(str, fallback[:20]))})"
        )
    return images


def _check_numbers(n: int, starts: tuple[int, int], batch_size: int, min_size: int | None) -> None:
    for param, start in (("seed_start", starts[0]), ("seed_start_b", starts[1])):
        if start < 0:
            raise ParameterError(param, start, "seeds (file indices for folders) start at 0")
    if n < 2:
        raise ParameterError("n", n, "the FD needs at least 2 images per side")
    if batch_size < 1:
        raise ParameterError("batch_size", batch_size, "must be at least 1")
    if min_size is not None and min_size < 1:
        raise ParameterError("min_size", min_size, "must be at least 1")


def fd(
    a: Source,
    b: Source,
    space: str | None = "inception-fid",
    *,
    n: int = 1000,
    seed_start: int = 0,
    seed_start_b: int | None = None,
    device: str = "cpu",
    batch_size: int = 16,
    allow_untrained: bool = False,
    skip_bad: bool = False,
    min_size: int | None = None,
    align: str | None = None,
    progress: bool = False,
) -> FDComparison:
    """The Fréchet distance between A and B in feature space `space` (float64 statistics).

    A and B are each a generator spec ("dcgan-digiface", "stylegan2:/net.pkl",
    "folder:/dir"), a path to an existing directory or .zip of images, or uint8 images
    [N, 3, H, W] (numpy or torch; used whole). Generators and folders give `n` images from
    seed (a folder's file index) `seed_start`, B from `seed_start_b` (default the same: one
    source on both sides then gives FD 0). With ``space=None`` A and B are precomputed
    features [N, dim]. `allow_untrained` admits a space without trained weights (labelled
    untrained); `skip_bad` and `min_size` apply to folders (see `generators.folder`);
    `align` ("celeba", "ffhq") frames generated and stored faces alike.
    Bad input raises `counterfactual.errors.UserError` (`ParameterError` for a number).
    """
    starts = (seed_start, seed_start if seed_start_b is None else seed_start_b)
    _check_numbers(n, starts, batch_size, min_size)
    arrays = [_array(a), _array(b)]
    if space is None:
        feats = [_check_features(x, v, side) for x, v, side in zip(arrays, (a, b), "AB")]
        label, trained, notes = None, None, []
    else:
        from extractors import load_extractor

        extractor = load_extractor(space, device=device, allow_untrained=allow_untrained)
        folder_options = {
            "skip_bad": skip_bad,
            **({} if min_size is None else {"min_size": min_size}),
        }
        feats, notes = [], []
        for value, array, side, start in zip((a, b), arrays, "AB", starts):
            if array is not None:
                images = _check_images(array, side)
            else:
                images = _generated(
                    value,
                    side,
                    start,
                    n,
                    device=device,
                    batch_size=batch_size,
                    progress=progress,
                    folder_options=folder_options,
                    align=align,
                    notes=notes,
                )
            feats.append(np.asarray(extractor(images, batch_size=batch_size)))
        space, label, trained = extractor.name, extractor.label, bool(extractor.trained)
    from counterfactual.metrics import FeatureStats, frechet_distance

    stats = [FeatureStats.from_features(f, keep_features=True) for f in feats]
    return FDComparison(
        frechet_distance(stats[0], stats[1]),
        space,
        label,
        trained,
        len(feats[0]),
        len(feats[1]),
        tuple(notes),
    )


__all__ = ["FDComparison", "Source", "fd"]
