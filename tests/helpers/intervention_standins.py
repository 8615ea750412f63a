"""Small stand-ins for the intervention tests: a toy GAN whose brightness is planted."""

from __future__ import annotations

import numpy as np
import torch

from generators.base import Generator, to_uint8


class ToyGAN(Generator):
    """Generator stand-in. Red channel brightness = tanh(1.5 * (latent . n_true)) and, with a
    W space, row band l of the image shows layer l's projection (so layer edits are visible).
    Green/blue hold a fixed random projection of the latent (content unrelated to n_true)."""

    def __init__(
        self,
        z_dim: int = 8,
        w_dim: int | None = None,
        num_ws: int | None = None,
        res: int = 16,
        seed: int = 0,
    ) -> None:
        rng = np.random.RandomState(seed)
        self.spec, self.z_dim, self.w_dim, self.num_ws = "toy", z_dim, w_dim, num_ws
        self.resolution, self.weights_sha256, self.device = res, None, torch.device("cpu")
        dim = w_dim or z_dim
        n = rng.randn(dim)
        self.n_true = torch.tensor(n / np.linalg.norm(n), dtype=torch.float32)
        self.proj = torch.tensor(rng.randn(dim, 2) / np.sqrt(dim), dtype=torch.float32)
        if w_dim:
            self.A = torch.tensor(rng.randn(w_dim, z_dim) / np.sqrt(z_dim), dtype=torch.float32)
            self.w_avg = torch.tensor(rng.randn(w_dim), dtype=torch.float32)
        self.image_calls: list[tuple[str, torch.Tensor]] = []

    def mapping(self, z, truncation_psi=1.0, truncation_cutoff=None):
        if not self.w_dim:
            return z * truncation_psi
        w = z @ self.A.T + self.w_avg
        ws = w[:, None].repeat(1, self.num_ws, 1)
        cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
        ws[:, :cut] = self.w_avg + truncation_psi * (ws[:, :cut] - self.w_avg)
        return ws

    def synthesis(self, ws, noise_mode="const"):
        if ws.ndim == 2:
            ws = ws[:, None]
        n, layers = ws.shape[:2]
        t = torch.tanh(1.5 * (ws @ self.n_true))  # [N, layers]
        rows = torch.arange(self.resolution) * layers // self.resolution
        img = torch.zeros(n, 3, self.resolution, self.resolution)
        img[:, 0] = t[:, rows][:, :, None]
        gb = torch.tanh(ws.mean(1) @ self.proj)  # [N, 2]
        img[:, 1:] = gb[:, :, None, None]
        return img

    def images(
        self,
        latents,
        *,
        space="z",
        batch_size=16,
        truncation_psi=1.0,
        truncation_cutoff=None,
        progress=False,
    ):
        self.image_calls.append((space, latents.clone()))
        ws = latents if space == "w" else self.mapping(latents, truncation_psi, truncation_cutoff)
        return torch.cat(
            [
                to_uint8(self.synthesis(ws[i : i + batch_size]))
                for i in range(0, len(ws), batch_size)
            ]
        )

    def describe(self):
        return {**super().describe(), "toy_seed": 0}


class Brightness:
    """Scorer stand-in: mean red-channel value of each image (float64)."""

    name = "brightness"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        return images[:, 0].double().mean(dim=(1, 2)).numpy()


class GreenLevel:
    """Second scorer stand-in: mean green-channel value (unrelated to the planted direction)."""

    name = "green"

    def __call__(self, images):
        return images[:, 1].double().mean(dim=(1, 2)).numpy()
