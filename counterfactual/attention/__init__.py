"""FD attention maps: where in the face each feature space's Fréchet distance looks, per
intervention (Grad-CAM of FD, after Kynkäänniemi et al., ICLR 2023).

- `gradient.fd_gradient`: dFD(reference, B)/d(each row of B), closed form, float64
- `gradcam`: the spaces with a map (`SPATIAL_LAYERS`; why not the others: `NO_MAP_REASONS`),
  Grad-CAM through the network's head, upsampling and per-image normalisation
- `regions`: the share of heat inside each face-parsing region and inside the changed pixels
- `engine.run_attention`: `counterfactual attention RUN_DIR` (and the sweep's `attention = true`)
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {"fd_gradient": "gradient", "run_attention": "engine", "region_shares": "regions"}


def __getattr__(name: str) -> Any:  # light import: torch loads on first use
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = list(_EXPORTS)
