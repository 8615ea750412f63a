"""Execution backends for a network: eager PyTorch (optionally channels_last) or ONNX Runtime.

`build_runner(module, example, backend, key)` returns a callable float NCHW -> features and
the name of the backend actually used. The ONNX model is exported once (legacy TorchScript
exporter, dynamic batch axis) into the user cache dir, keyed by the weights' sha256, the
input shape and the torch/opset versions, written atomically (temp file in the same dir, then
``os.replace``) and checked against eager PyTorch on the example input before first use.
If export or that check fails, the runner falls back to eager PyTorch with a warning.

Cache dir: ``$COUNTERFACTUAL_CACHE`` or ``~/.cache/counterfactual-fd``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from counterfactual.foundation.files import atomic_path
from counterfactual.foundation.hashing import content_hash

CACHE_ENV = "COUNTERFACTUAL_CACHE"
BACKENDS = ("auto", "torch", "torch-channels-last", "onnx")
ONNX_OPSET = 17
AGREEMENT_RTOL = 1e-4  # max |onnx - torch| / max |torch| accepted at export time

Runner = Callable[[torch.Tensor], torch.Tensor]


def cache_dir() -> Path:
    """Root of the user cache (ONNX exports): $COUNTERFACTUAL_CACHE or ~/.cache/counterfactual-fd."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "counterfactual-fd"


class TorchRunner:
    """Eager PyTorch fp32; channels_last optionally (same numbers up to float rounding)."""

    def __init__(
        self, module: torch.nn.Module, channels_last: bool = False, device: str = "cpu"
    ) -> None:
        self.channels_last = channels_last
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        if channels_last and not isinstance(module, torch.jit.ScriptModule):
            self.module = self.module.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.module(x).cpu()


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime options of every session of ours: `threads` intra-op threads (default:
    torch's), one inter-op thread, and no CPU memory arena. The arena keeps the largest
    activations a session ever saw for its lifetime (~460 MB per Inception at batch 16, for
    every space of a sweep at once); without it each run's buffers are freed after the run.
    The kernels and their numbers are the same either way."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    return opts


class OnnxRunner:
    """ONNX Runtime CPU session on an exported model."""

    def __init__(
        self, path: Path, flush_denormal: bool = False, threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        opts = session_options(threads)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if flush_denormal:
            opts.add_session_config_entry("session.set_denormal_as_zero", "1")
        self.path = path
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: arr})[0])


def onnx_path(key: str, example: torch.Tensor) -> Path:
    """Cache location of the export for (`key`, input shape, torch version, opset)."""
    digest = content_hash(
        {
            "key": key,
            "chw": list(example.shape[1:]),
            "torch": torch.__version__,
            "opset": ONNX_OPSET,
        }
    )[:24]
    return cache_dir() / "onnx" / f"{digest}.onnx"


def export_onnx(module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export with a dynamic batch axis, atomically (temp file in the same directory)."""
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (example,),
            tmp,
            input_names=["images"],
            output_names=["features"],
            opset_version=ONNX_OPSET,
            dynamic_axes={"images": {0: "n"}, "features": {0: "n"}},
            dynamo=False,
        )


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.abs().max()) or 1.0
    return float((a - b).abs().max()) / scale


def build_onnx_runner(
    module: torch.nn.Module, example: torch.Tensor, key: str, flush_denormal: bool = False
) -> OnnxRunner:
    """Export (once, verified against eager PyTorch) and open an ONNX Runtime session."""
    path = onnx_path(key, example)
    fresh = not path.is_file()
    if fresh:
        export_onnx(module, example, path)
    runner = OnnxRunner(path, flush_denormal=flush_denormal)
    if fresh:
        with torch.no_grad():
            ref = module.eval()(example)
        err = _relative_error(runner(example), ref)
        if not err <= AGREEMENT_RTOL:
            path.unlink(missing_ok=True)
            raise RuntimeError(
                f"ONNX export of {key} disagrees with PyTorch (rel. error {err:.2e})"
            )
    return runner


def build_runner(
    module: torch.nn.Module,
    example: torch.Tensor,
    backend: str,
    key: str,
    prefer: str = "torch",
    flush_denormal: bool = False,
    device: str = "cpu",
) -> tuple[Runner, str]:
    """(runner, backend used). `backend="auto"` uses `prefer` (eager torch off the CPU),
    falling back to eager torch if the ONNX export fails. ONNX runs on the CPU only."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    on_cpu = torch.device(device).type == "cpu"
    if backend == "onnx" and not on_cpu:
        raise ValueError(f"backend 'onnx' runs on the CPU only, not on {device!r}")
    chosen = (prefer if on_cpu else "torch") if backend == "auto" else backend
    if chosen == "onnx":
        try:
            return build_onnx_runner(module, example, key, flush_denormal), "onnx"
        except Exception as exc:  # noqa: BLE001 (any export/runtime failure -> eager)
            if backend == "onnx":
                raise
            warnings.warn(
                f"ONNX backend unavailable for {key} ({exc}); using eager PyTorch",
                RuntimeWarning,
                stacklevel=2,
            )
            chosen = "torch"
    if chosen == "torch-channels-last":
        return TorchRunner(module, channels_last=True, device=device), "torch-channels-last"
    return TorchRunner(module, device=device), "torch"
