"""A StyleGAN2 network behind the Generator interface: seeds -> z -> ws -> face -> uint8.

- `load_stylegan2` (the "stylegan2" spec): an NVIDIA pickle (`stylegan2:/path/network.pkl`,
  read safely by `unpickler.py`, never executed) or a `torch.save` state dict plus init kwargs
  JSON (`stylegan2:/path/sd.pt`); `weights.py` builds our network from either. A file
  starting with a zip header (what `torch.save` writes), or an explicit `init_kwargs_json`,
  selects the state-dict route; anything else is read as an NVIDIA pickle. Every refusal is
  an `InvalidWeightsError` (`UnsafePickleError` is one) naming the file and the reason.
- Images use noise_mode "const" (or "none"), so they are a deterministic function of the
  latents; latents are z or w (W or W+), truncated towards `w_avg` (psi, cutoff).
- Batching: `StyleGAN2Faces` synthesises whole batches whenever it is given more than one
  image; with `batched=False` it runs the one-image-at-a-time reference path. The two differ
  by float rounding only (float outputs within 1e-4, uint8 images within one level;
  tests/generators/stylegan2/test_generator.py).
- Precision: float32 on every device by default; `fp16=True` (CUDA only, off by default) runs
  the network's `num_fp16_res` highest-resolution blocks in float16 as NVIDIA does, and is
  recorded as the generator's `precision` in manifests and cache keys.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from counterfactual.foundation.hashing import sha256_file
from generators.base import Generator, to_uint8
from generators.stylegan2.network import StyleGAN2Generator, SynthesisBlock, truncate
from generators.stylegan2.unpickler import existing_file
from generators.stylegan2.weights import (
    generator_from_pickle,
    generator_from_state_dict,
    is_zip_archive,
)


class StyleGAN2Faces(Generator):
    """A StyleGAN2 network behind `generators.base.Generator` (uint8 images, W / W+ latents).

    Images use noise_mode "const" (or "none") so they are a deterministic function of the
    latents. `mapping` and `synthesis` process what they are given as one batch (`images`: in
    batches of `batch_size`); `batched=False` runs them one image at a time instead (the
    reference path: bitwise independent of the batch size, and slow on a GPU). Batched images
    agree with it to float rounding (uint8: within one level). `fp16=True` (CUDA only) runs
    the network's `num_fp16_res` highest-resolution blocks in float16, as NVIDIA does.
    A conditional network needs `class_index` (the one-hot label used for every image).
    """

    def __init__(
        self,
        net: StyleGAN2Generator,
        device: str | torch.device = "cpu",
        weights_sha256: str | None = None,
        *,
        class_index: int | None = None,
        noise_mode: str = "const",
        spec: str = "stylegan2",
        batched: bool = True,
        fp16: bool = False,
    ) -> None:
        if noise_mode not in ("const", "none"):
            raise ValueError(
                f"noise_mode must be 'const' or 'none' for reproducible images, got {noise_mode!r}"
            )
        if net.c_dim > 0 and (class_index is None or not 0 <= class_index < net.c_dim):
            raise ValueError(
                f"conditional network (c_dim={net.c_dim}) needs class_index in "
                f"[0, {net.c_dim}), got {class_index}"
            )
        self.device = torch.device(device)
        if fp16 and self.device.type != "cuda":
            raise ValueError(
                f"fp16 synthesis runs on CUDA only; device is {self.device} "
                "(leave fp16 off: float32 is the default everywhere)"
            )
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.spec = spec
        self.z_dim, self.w_dim, self.num_ws = net.z_dim, net.w_dim, net.num_ws
        self.resolution = net.img_resolution
        self.weights_sha256 = weights_sha256
        self.class_index = class_index
        self.noise_mode = noise_mode
        self.batched = batched
        self.fp16 = fp16

    @property
    def precision(self) -> str:
        """ "float32", or which blocks run in float16 ("float16 at 512-1024 px, else float32")."""
        fp16_res = [b.resolution for b in self._blocks() if b.use_fp16]
        if not self.fp16 or not fp16_res:
            return "float32"
        return f"float16 at {min(fp16_res)}-{max(fp16_res)} px, else float32"

    def _blocks(self) -> list[SynthesisBlock]:
        syn = self.net.synthesis
        return [getattr(syn, f"b{res}") for res in syn.block_resolutions]

    def _each(self, fn: Any, x: torch.Tensor) -> torch.Tensor:
        """fn over x as one batch, or one row at a time when not batched; on CUDA in float32
        without TF32 convolutions (cuDNN's default), so images match the CPU's."""
        with self._exact_cuda():
            if self.batched or len(x) <= 1:
                return fn(x)
            return torch.cat([fn(x[i : i + 1]) for i in range(len(x))])

    def _exact_cuda(self) -> Any:
        if self.device.type != "cuda" or self.fp16:
            return contextlib.nullcontext()
        cudnn = torch.backends.cudnn
        return cudnn.flags(
            enabled=cudnn.enabled,
            benchmark=cudnn.benchmark,
            deterministic=cudnn.deterministic,
            allow_tf32=False,
        )

    def _labels(self, n: int) -> torch.Tensor | None:
        if self.net.c_dim == 0:
            return None
        c = torch.zeros([n, self.net.c_dim], device=self.device)
        c[:, self.class_index] = 1
        return c

    @torch.no_grad()
    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z [N, z_dim] -> ws [N, num_ws, w_dim]."""
        z = z.to(self.device, torch.float32)
        return self._each(
            lambda part: self.net.mapping(
                part, self._labels(len(part)), truncation_psi, truncation_cutoff
            ),
            z,
        )

    @torch.no_grad()
    def synthesis(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] (or [N, w_dim], broadcast) -> float32 images NCHW on the device."""
        ws = self._as_wplus(ws.to(self.device, torch.float32))
        mode = self.noise_mode if noise_mode is None else noise_mode
        return self._each(
            lambda part: self.net.synthesis(part, noise_mode=mode, fp16=self.fp16), ws
        )

    def _as_wplus(self, ws: torch.Tensor) -> torch.Tensor:
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            return ws.unsqueeze(1).repeat([1, self.num_ws, 1])
        if ws.ndim == 3 and tuple(ws.shape[1:]) == (self.num_ws, self.w_dim):
            return ws
        raise ValueError(
            f"w latents must have shape [N, {self.w_dim}] or "
            f"[N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
        )

    @torch.no_grad()
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
        """uint8 NCHW on the CPU. space "z": z -> mapping (with truncation) -> synthesis;
        space "w": ws ([N, w_dim] or [N, num_ws, w_dim]) are truncated towards w_avg the same
        way (psi, cutoff) and synthesised."""
        if space not in ("z", "w"):
            raise ValueError(f"space must be 'z' or 'w', got {space!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        from tqdm.auto import tqdm

        out = []
        starts = range(0, len(latents), batch_size)
        for start in tqdm(starts, disable=not progress, desc="stylegan2", unit="batch"):
            chunk = latents[start : start + batch_size]
            if space == "z":
                ws = self.mapping(chunk, truncation_psi, truncation_cutoff)
            else:
                ws = truncate(
                    self._as_wplus(chunk.to(self.device, torch.float32)),
                    getattr(self.net.mapping, "w_avg", None),
                    truncation_psi,
                    truncation_cutoff,
                )
            out.append(to_uint8(self.synthesis(ws)).cpu())
        if not out:
            return torch.zeros(
                [0, self.net.img_channels, self.resolution, self.resolution], dtype=torch.uint8
            )
        return torch.cat(out)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            init_kwargs=self.net.init_kwargs,
            class_index=self.class_index,
            noise_mode=self.noise_mode,
            precision=self.precision,
        )
        return d


def load_stylegan2(
    path: str | None,
    device: str = "cpu",
    *,
    init_kwargs_json: str | None = None,
    key: str = "G_ema",
    class_index: int | None = None,
    noise_mode: str = "const",
) -> StyleGAN2Faces:
    """The "stylegan2" generator: an NVIDIA pickle, or a state dict (zip) + init kwargs JSON.

    A file starting with a zip header (torch.save) or an explicit `init_kwargs_json` selects
    the state-dict route; anything else is read as an NVIDIA pickle (network `key`, default
    "G_ema").
    """
    if not path:
        raise ValueError("the stylegan2 generator needs a file: 'stylegan2:/path/network.pkl'")
    path_ = existing_file(path)
    if init_kwargs_json is not None or is_zip_archive(path_):
        net = generator_from_state_dict(path_, init_kwargs_json)
    else:
        net = generator_from_pickle(path_, key=key)
    return StyleGAN2Faces(
        net,
        device=device,
        weights_sha256=sha256_file(path_),
        class_index=class_index,
        noise_mode=noise_mode,
        spec=f"stylegan2:{path}",
    )


__all__ = ["StyleGAN2Faces", "load_stylegan2"]
