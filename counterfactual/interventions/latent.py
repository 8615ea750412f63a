"""Latent-space edits: w' = w + alpha * n in Z, W or W+ (optionally on a layer range only).

GANSpace-style layer-range edits apply the direction to ws[:, start:stop] only (coarse
layers change pose/shape, fine layers colour/texture). Generators without a W space
(DCGAN) are edited in Z. `pca_directions` finds GANSpace's principal directions of W.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

SPACES = ("z", "w", "w+")


def resolve_space(generator: Any, space: str) -> str:
    """ "auto" -> "w" when the generator has a W space, else "z"; validates the name."""
    if space == "auto":
        return "w" if getattr(generator, "w_dim", None) else "z"
    if space not in SPACES:
        raise ValueError(f"unknown latent space {space!r}; allowed: auto, {', '.join(SPACES)}")
    if space != "z" and not getattr(generator, "w_dim", None):
        raise ValueError(
            f"latent space {space!r} needs a generator with a W space; "
            f"{getattr(generator, 'spec', type(generator).__name__)} has none (use space='z')"
        )
    return space


def space_dim(generator: Any, space: str) -> int:
    """Length of a direction vector in `space` for this generator."""
    dim = generator.z_dim if space == "z" else generator.w_dim
    if dim is None:
        raise ValueError(f"{getattr(generator, 'spec', 'generator')} has no {space!r} latent space")
    return int(dim)


def check_layers(layers: Sequence[int] | None, num_ws: int | None) -> tuple[int, int] | None:
    """Validate a half-open W+ layer range (start, stop); None means every layer."""
    if layers is None:
        return None
    if len(layers) != 2:
        raise ValueError(f"layers must be (start, stop), got {layers!r}")
    start, stop = int(layers[0]), int(layers[1])
    if num_ws is None:
        raise ValueError(
            "a layer range needs a generator with W+ (num_ws); edit in 'z' without layers"
        )
    if not 0 <= start < stop <= num_ws:
        raise ValueError(
            f"layer range ({start}, {stop}) outside 0..{num_ws} (half-open, start < stop)"
        )
    return start, stop


def edit_latents(
    latents: torch.Tensor,
    direction: torch.Tensor | np.ndarray,
    alpha: float | torch.Tensor,
    layers: tuple[int, int] | None = None,
) -> torch.Tensor:
    """latents + alpha * direction; latents [N, dim] or W+ [N, num_ws, dim] (layers: only those)."""
    import torch

    n = torch.as_tensor(np.asarray(direction), dtype=latents.dtype, device=latents.device).reshape(
        -1
    )
    if n.numel() != latents.shape[-1]:
        raise ValueError(f"direction has {n.numel()} entries, latents have dim {latents.shape[-1]}")
    a = torch.as_tensor(alpha, dtype=latents.dtype, device=latents.device)
    if a.ndim == 1:  # one alpha per sample
        a = a.reshape(-1, *([1] * (latents.ndim - 1)))
    out = latents.clone()
    if latents.ndim == 2:
        if layers is not None:
            raise ValueError("a layer range needs W+ latents [N, num_ws, dim]")
        return out + a * n
    if latents.ndim != 3:
        raise ValueError(f"latents must be [N, dim] or [N, num_ws, dim], got {list(latents.shape)}")
    start, stop = layers if layers is not None else (0, latents.shape[1])
    out[:, start:stop] = latents[:, start:stop] + a * n
    return out


def _chunks(n: int, size: int, progress: bool, desc: str):
    starts = range(0, n, size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, total=(n + size - 1) // size)
    for s in starts:
        yield s, min(n, s + size)


def edited_images(
    generator: Any,
    z: torch.Tensor,
    direction: torch.Tensor | np.ndarray,
    alpha: float | np.ndarray | torch.Tensor,
    space: str,
    layers: tuple[int, int] | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> torch.Tensor:
    """uint8 NCHW images of z edited by alpha * direction in `space` (psi = 1, like the bases);
    alpha is one number or one per face."""
    import torch

    a = torch.as_tensor(alpha, dtype=torch.float32)
    out = []
    chunk = max(1, batch_size) * 8
    for s, e in _chunks(len(z), chunk, progress, "edit"):
        a_chunk = a if a.ndim == 0 else a[s:e]
        if space == "z":
            out.append(
                generator.images(
                    edit_latents(z[s:e], direction, a_chunk), space="z", batch_size=batch_size
                )
            )
            continue
        with torch.no_grad():
            ws = generator.mapping(z[s:e], truncation_psi=1.0)
        out.append(
            generator.images(
                edit_latents(ws, direction, a_chunk, layers), space="w", batch_size=batch_size
            )
        )
    if not out:
        return torch.zeros(0, 3, generator.resolution, generator.resolution, dtype=torch.uint8)
    return torch.cat(out).cpu()


def sample_latents(
    generator: Any, n: int, seed_start: int, space: str, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """z for seeds seed_start..seed_start+n-1 and their codes in `space` ([n, dim], psi = 1)."""
    import torch

    z = generator.latents(range(seed_start, seed_start + n))
    if space == "z":
        return z, z.clone()
    codes = []
    with torch.no_grad():
        for s in range(0, n, batch_size):
            ws = generator.mapping(z[s : s + batch_size], truncation_psi=1.0)
            codes.append((ws[:, 0] if ws.ndim == 3 else ws).float().cpu())
    return z, torch.cat(codes)


def pca_directions(
    generator: Any, n_samples: int = 10_000, n_components: int = 10, seed_start: int = 2_000_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: principal directions of W ([k, w_dim], unit rows) and their explained variance."""
    if not getattr(generator, "w_dim", None):
        raise ValueError("pca_directions needs a W space (Z of a Gaussian-latent GAN is isotropic)")
    if not 1 <= n_components <= generator.w_dim or n_samples <= n_components:
        raise ValueError(
            f"need 1 <= n_components <= {generator.w_dim} < n_samples, "
            f"got n_components={n_components}, n_samples={n_samples}"
        )
    _, w = sample_latents(generator, n_samples, seed_start, "w")
    x = w.double().numpy()
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s[:n_components] ** 2 / (n_samples - 1)
    comps = vt[:n_components]
    # Sign convention: the largest-magnitude entry of each component is positive.
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    return comps * signs[:, None], var


def latent_codes(generator: Any, z: torch.Tensor, space: str) -> np.ndarray:
    """float64 [N, dim] codes of z in `space` ("z", or "w"/"w+": the mapped w at psi = 1)."""
    import torch

    if space == "z":
        return z.double().cpu().numpy()
    with torch.no_grad():
        ws = generator.mapping(z, truncation_psi=1.0)
    return (ws[:, 0] if ws.ndim == 3 else ws).double().cpu().numpy()


def population_projections(
    generator: Any,
    direction: np.ndarray,
    space: str,
    seed_start: int,
    n: int,
    batch_size: int = 256,
) -> np.ndarray:
    """float64 projections on the unit `direction` of the codes of seeds seed_start..+n-1 (the
    population a direction was learned from): the scale of strength_sd and level_sd."""
    normal = np.asarray(direction, dtype=np.float64).reshape(-1)
    out = []
    for s in range(0, n, batch_size):
        z = generator.latents(range(seed_start + s, seed_start + min(n, s + batch_size)))
        out.append(latent_codes(generator, z, space) @ normal)
    return np.concatenate(out) if out else np.zeros(0)


def level_steps(projection: np.ndarray, level: float) -> np.ndarray:
    """Per-face steps that raise each projection to at least `level` (0 where it is already
    there): max(0, level - projection), float64."""
    return np.maximum(0.0, float(level) - np.asarray(projection, dtype=np.float64))


def level_alphas(codes: np.ndarray, direction: np.ndarray, level: float) -> np.ndarray:
    """`level_steps` of codes [N, dim] on the unit `direction`: w' = w + max(0, level - n.w) n."""
    normal = np.asarray(direction, dtype=np.float64).reshape(-1)
    return level_steps(np.asarray(codes, dtype=np.float64) @ normal, level)
