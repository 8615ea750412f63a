"""Samples of any model, read from a folder or a .zip, behind the Generator interface.

Policy (recorded in `describe()`):
- Files: extensions .png .jpg .jpeg .webp (any case), found recursively, ordered by their
  relative POSIX path (plain string sort). Hidden entries (a path component starting with
  ".") and `__MACOSX/` in zips are ignored. Seed i is the i-th file.
- Pixels: `generators.decode.to_rgb` -- every PIL mode scaled as its values say (16-bit and
  float images included); alpha is dropped by default (`alpha="drop"`, the pytorch-fid /
  clean-fid convention) or composited over black or white. EXIF orientation is not applied.
- Working resolution: `resolution` when given, else the most common shorter side among the
  files (ties: the larger). Each image is centre-cropped to its largest central square
  (`crop="center"`) or stretched (`crop="stretch"`), then resized to the working resolution
  with the PIL filter named by `resize` when its size differs ("lanczos" by default; "error"
  refuses any resize). Images already square at the resolution are passed through untouched.
  Images smaller than the resolution are upscaled, with an `UpscaleWarning`.
- Minimum size: an image whose shorter side is below `min_size` (default 8 px) is refused
  (pass `min_size=1` to accept it, or `skip_bad=True` to leave it out).
- A file PIL cannot decode (or a zip member failing its CRC) raises `BadImageError` naming it.
  With `skip_bad=True` every file is decoded once at load time, bad or too small ones are left
  out (so seed numbers stay stable) and listed in `skipped` (reasons in `skip_reasons`).
- Alignment (`align="celeba"` or `"ffhq"`, `extractors.face.framing`; default None: none):
  every file is decoded and its face detected once at load time (SCRFD, five landmarks); each
  image is then framed from the whole decoded file (no centre crop, no separate resize) at the
  working resolution. A file without a detected face raises one `BadImageError` naming every
  such file, or with `skip_bad=True` is skipped like a bad file ("no face detected").
- Built-in sets: "folder:celeba-999" (`generators.builtin_sets`) is the carrier package's
  folder, checked against its pinned file-list sha256; the name is reserved.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image

from counterfactual.errors import UserError
from generators.base import Generator
from generators.decode import ALPHA_RULES, BadImageError, to_rgb

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
RESIZE_FILTERS: dict[str, Image.Resampling | None] = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "nearest": Image.Resampling.NEAREST,
    "error": None,
}
CROPS = ("center", "stretch")
DEFAULT_MIN_SIZE = 8
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class FolderError(UserError):
    """A path that cannot serve as a sample set (not a directory or .zip, or no usable image):
    bad input, reported as one line with exit code 2 (`counterfactual.errors`)."""


class MissingFolderError(FolderError, FileNotFoundError):
    """The directory or .zip does not exist."""


class UpscaleWarning(UserWarning):
    """Some images of a folder are smaller than its working resolution and get upscaled."""


def _wanted(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(rel).suffix.lower() in EXTENSIONS


class _Source:
    """Byte access to the image files of a directory or a zip archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_zip = path.is_file()
        if self.is_zip:
            if not zipfile.is_zipfile(path):
                raise FolderError(f"{path} is neither a directory nor a .zip archive")
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        elif path.is_dir():
            names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        else:
            raise MissingFolderError(f"sample folder not found: {path}")
        self.names = sorted(n for n in names if _wanted(n))
        self._zip: zipfile.ZipFile | None = None

    def read(self, name: str) -> bytes:
        """The file's bytes; BadImageError naming it when it cannot be read (a zip member
        failing its CRC included)."""
        try:
            if not self.is_zip:
                return (self.path / name).read_bytes()
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            return self._zip.read(name)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BadImageError(f"cannot read {self.where(name)}: {exc}") from exc

    def size(self, name: str) -> tuple[int, int]:
        """(width, height) from the file's header (directories: without reading it all)."""
        try:
            if not self.is_zip:
                with Image.open(self.path / name) as img:
                    return img.size
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            with self._zip.open(name) as fh, Image.open(fh) as img:
                return img.size
        except (*_DECODE_ERRORS, zipfile.BadZipFile, zlib.error) as exc:
            raise BadImageError(f"cannot decode image {self.where(name)}: {exc}") from exc

    def where(self, name: str) -> str:
        return f"{self.path}!{name}" if self.is_zip else str(self.path / name)


def _open(data: bytes, where: str, alpha: str = "drop") -> Image.Image:
    """The decoded RGB image (see generators.decode); BadImageError naming `where`."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except _DECODE_ERRORS as exc:
        raise BadImageError(f"cannot decode image {where}: {exc}") from exc
    return Image.fromarray(to_rgb(img, where, alpha), "RGB")


def working_resolution(sizes: Sequence[tuple[int, int]]) -> int:
    """The most common shorter side of (width, height) sizes (ties: the larger)."""
    counts = Counter(min(size) for size in sizes)
    return max(counts, key=lambda side: (counts[side], side))


class FolderGenerator(Generator):
    """Images of a folder or zip as uint8 NCHW batches; seed i = the i-th file (sorted)."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | torch.device = "cpu",
        resolution: int | None = None,
        resize: str = "lanczos",
        crop: str = "center",
        skip_bad: bool = False,
        alpha: str = "drop",
        min_size: int = DEFAULT_MIN_SIZE,
        align: str | None = None,
    ) -> None:
        from generators.builtin_sets import BUILTIN_SETS, builtin_path

        if resize not in RESIZE_FILTERS:
            raise ValueError(f"resize must be one of {sorted(RESIZE_FILTERS)}, got {resize!r}")
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        if alpha not in ALPHA_RULES:
            raise ValueError(f"alpha must be one of {', '.join(ALPHA_RULES)}, got {alpha!r}")
        if resolution is not None and int(resolution) < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution}")
        if int(min_size) < 1:
            raise ValueError(f"min_size must be a positive integer, got {min_size}")
        self.builtin = BUILTIN_SETS[str(path)] if str(path) in BUILTIN_SETS else None
        self.path = builtin_path(str(path)) if self.builtin else Path(path).expanduser()
        self.spec = f"folder:{path}" if self.builtin else f"folder:{self.path}"
        self.aligner = None
        if align is not None:
            if resize == "error":
                raise ValueError(
                    "align resamples every image: it cannot be combined with resize='error'"
                )
            from extractors.face.framing import FaceAligner

            self.aligner = FaceAligner(align, str(device))
        self.align = align
        self._kps: dict[str, np.ndarray] = {}
        self.device = torch.device(device)  # images are always returned on the CPU
        self.z_dim = self.w_dim = self.num_ws = None
        self.weights_sha256 = None
        self.resize, self.crop, self.skip_bad = resize, crop, skip_bad
        self.alpha, self.min_size = alpha, int(min_size)
        self._source = _Source(self.path)
        names = self._source.names
        if not names:
            raise FolderError(f"no images ({', '.join(EXTENSIONS)}) found in {self.path}")
        self.skipped: list[str] = []
        self.skip_reasons: dict[str, str] = {}
        self._digests: dict[str, str] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        names = self._scan(names)
        if self.aligner is not None:
            names = self._detect(names)
        if not names:
            raise FolderError(
                f"every image in {self.path} failed to decode or is below min_size "
                f"{self.min_size} px ({len(self.skipped)} skipped)"
            )
        self.files: list[str] = names
        sizes = [self._sizes[n] for n in names]
        self.resolution = int(resolution) if resolution is not None else working_resolution(sizes)
        self.resolution_rule = "given" if resolution is not None else "most common shorter side"
        self.n_upscaled = sum(min(size) < self.resolution for size in sizes)
        if self.n_upscaled:
            first = next(n for n in names if min(self._sizes[n]) < self.resolution)
            w, h = self._sizes[first]
            warnings.warn(
                f"{self.n_upscaled} of {len(names)} images in {self.path} are smaller than "
                f"the working resolution {self.resolution} px ({self.resolution_rule}) and "
                f"are upscaled (first: {first}, {w}x{h})",
                UpscaleWarning,
                stacklevel=2,
            )
        self._file_list_sha256: str | None = None

    def _scan(self, names: list[str]) -> list[str]:
        """Sizes of every file (headers only; with skip_bad every file is decoded and bad or
        too small ones are skipped); files below min_size are refused unless skipped."""
        good, small = [], []
        for name in names:
            where = self._source.where(name)
            try:
                if self.skip_bad:
                    data = self._source.read(name)
                    self._sizes[name] = _open(data, where, self.alpha).size
                    self._digests[name] = hashlib.sha256(data).hexdigest()
                else:
                    self._sizes[name] = self._source.size(name)
            except BadImageError as exc:
                if not self.skip_bad:
                    raise
                self.skipped.append(name)
                self.skip_reasons[name] = str(exc)
                continue
            if min(self._sizes[name]) < self.min_size:
                if self.skip_bad:
                    w, h = self._sizes[name]
                    self.skipped.append(name)
                    self.skip_reasons[name] = f"{w}x{h} is below min_size {self.min_size} px"
                    continue
                small.append(name)
            good.append(name)
        if small:
            w, h = self._sizes[small[0]]
            raise BadImageError(
                f"{len(small)} image(s) in {self.path} are smaller than min_size {self.min_size} px "
                f"(first: {self._source.where(small[0])}, {w}x{h}); pass min_size=1 to use them, or "
                "skip_bad to leave them out"
            )
        return good

    def _detect(self, names: list[str]) -> list[str]:
        """Five landmarks of every file (align); files without a face are refused or skipped."""
        good, faceless = [], []
        for name in names:
            img = np.asarray(_open(self._source.read(name), self._source.where(name), self.alpha))
            kps = self.aligner.landmarks(img)
            if kps is None:
                faceless.append(name)
                continue
            self._kps[name] = kps
            good.append(name)
        reason = f"no face detected (SCRFD, det_size {self.aligner.analyzer.detector.det_size})"
        if faceless and not self.skip_bad:
            listed = ", ".join(self._source.where(n) for n in faceless[:5])
            more = f" and {len(faceless) - 5} more" if len(faceless) > 5 else ""
            raise BadImageError(
                f"align={self.align!r}: {len(faceless)} image(s) in {self.path} have "
                f"{reason}: {listed}{more}; pass skip_bad to leave them out"
            )
        for name in faceless:
            self.skipped.append(name)
            self.skip_reasons[name] = reason
        return good

    def __len__(self) -> int:
        return len(self.files)

    @property
    def file_list_sha256(self) -> str:
        """sha256 over (relative name, sha256 of contents) of every file used, in order."""
        if self._file_list_sha256 is None:
            h = hashlib.sha256()
            for name in self.files:
                digest = self._digests.get(name)
                if digest is None:
                    digest = hashlib.sha256(self._source.read(name)).hexdigest()
                h.update(f"{name}\0{digest}\n".encode())
            self._file_list_sha256 = h.hexdigest()
        return self._file_list_sha256

    def _load(self, index: int) -> np.ndarray:
        name = self.files[index]
        where = self._source.where(name)
        img = _open(self._source.read(name), where, self.alpha)
        if self.aligner is not None:
            from extractors.face.framing import warp_quad

            f = self.aligner.framing
            out = warp_quad(np.asarray(img), f.quad(self._kps[name]), self.resolution, f.padding)
            return out.transpose(2, 0, 1)
        w, h = img.size
        if w != h and self.crop == "center":
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.crop((left, top, left + s, top + s))
        r = self.resolution
        if img.size != (r, r):
            resample = RESIZE_FILTERS[self.resize]
            if resample is None:
                raise BadImageError(f"{where} is {w}x{h}, not {r}x{r}, and resize='error'")
            img = img.resize((r, r), resample=resample)
        return np.array(img, dtype=np.uint8).transpose(2, 0, 1)

    def images_for_seeds(
        self, seeds: Sequence[int], batch_size: int = 16, progress: bool = False, **kwargs: Any
    ) -> torch.Tensor:
        """uint8 [N, 3, R, R] (CPU) of files number `seeds` (0-based, in sorted order)."""
        if kwargs.get("truncation_psi", 1) != 1 or kwargs.get("truncation_cutoff") is not None:
            raise ValueError("a sample folder has no latents: truncation is unsupported")
        unknown = set(kwargs) - {"truncation_psi", "truncation_cutoff", "space"}
        if unknown:
            raise TypeError(f"unexpected arguments for a sample folder: {sorted(unknown)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        idx = [int(s) for s in seeds]
        bad = [i for i in idx if not 0 <= i < len(self)]
        if bad:
            raise IndexError(
                f"seeds {bad[:5]} out of range: {self.path} holds {len(self)} "
                f"images (seeds 0..{len(self) - 1})"
            )
        r = self.resolution
        out = torch.empty(len(idx), 3, r, r, dtype=torch.uint8)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(idx), desc=f"{self.spec} images", unit="img")
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            for j, i in enumerate(chunk):
                out[start + j] = torch.from_numpy(self._load(i))
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out

    def images(
        self,
        latents: torch.Tensor,
        *,
        space: str = "z",
        batch_size: int = 16,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Accepts a 1-D integer tensor of file indices (a folder has no latent space)."""
        if (
            not isinstance(latents, torch.Tensor)
            or latents.is_floating_point()
            or latents.is_complex()
            or latents.ndim != 1
        ):
            raise TypeError(
                f"{self.spec} has no latent space: pass a 1-D integer tensor of "
                "file indices (or use images_for_seeds)"
            )
        return self.images_for_seeds(
            latents.tolist(),
            batch_size=batch_size,
            progress=progress,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
        )

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        raise TypeError(f"{self.spec} has no latent space: no mapping")

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        raise TypeError(f"{self.spec} has no latent space: no synthesis")

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            {
                "path": str(self.path),
                "source": "zip" if self._source.is_zip else "directory",
                "n_files": len(self),
                "file_list_sha256": self.file_list_sha256,
                "extensions": list(EXTENSIONS),
                "order": "sorted relative POSIX path",
                "color": "generators.decode.to_rgb",
                "alpha": self.alpha,
                "exif_orientation": "ignored",
                "crop": self.crop,
                "resize": self.resize,
                "resolution_rule": self.resolution_rule,
                "n_upscaled": self.n_upscaled,
                "min_size": self.min_size,
                "skip_bad": self.skip_bad,
                "skipped": list(self.skipped),
                "n_skipped": len(self.skipped),
                "align": None if self.aligner is None else self.aligner.describe(),
            }
        )
        if self.skipped:
            d["skip_reasons"] = dict(self.skip_reasons)
        if self.builtin is not None:
            d.update(self.builtin.describe())
        return d


def load_folder(
    path: str | Path | None,
    device: str | torch.device = "cpu",
    resolution: int | None = None,
    resize: str = "lanczos",
    crop: str = "center",
    skip_bad: bool = False,
    alpha: str = "drop",
    min_size: int = DEFAULT_MIN_SIZE,
    align: str | None = None,
    **kwargs: Any,
) -> FolderGenerator:
    """Registry loader for "folder:/path/to/dir_or.zip"."""
    if kwargs:
        raise TypeError(f"folder generator got unexpected options {sorted(kwargs)}")
    if not path:
        raise ValueError("the folder generator needs a path: 'folder:/path/to/images_or.zip'")
    return FolderGenerator(
        path,
        device=device,
        resolution=resolution,
        resize=resize,
        crop=crop,
        skip_bad=skip_bad,
        alpha=alpha,
        min_size=min_size,
        align=align,
    )


__all__ = [
    "FolderGenerator",
    "BadImageError",
    "FolderError",
    "MissingFolderError",
    "UpscaleWarning",
    "load_folder",
    "working_resolution",
    "EXTENSIONS",
    "RESIZE_FILTERS",
    "DEFAULT_MIN_SIZE",
]
