"""Map the constants of MobileStyleGAN's released OpenVINO graphs onto our modules.

The synthesis graph keeps the PyTorch names of most parameters (`m.layers.3.conv2.bias`,
`m.layers.3.conv2.conv.modulation.weight`, ...). The rest were folded by the exporter and are
found by walking the graph from a named constant: a styled convolution's bias is added to
(convolution + constant noise), whose convolution holds the pointwise weight with the
demodulation folded in; the modulation's gain multiplies the reshaped affine output. The
mapping graph has no names: its eight MatMul layers, in order, give the weights, and the
Add after each gives the bias. Every scalar the module assumes (leaky slope, gains, Haar
filters, pixel-norm epsilon) is checked against the graph's own constant.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from generators.mobilestylegan.ir import IRFormatError, IRGraph, Layer
from generators.mobilestylegan.network import HAAR, LEAKY_SLOPE, MappingNetwork, SynthesisNetwork


def _const_input(g: IRGraph, layer: Layer) -> np.ndarray | None:
    """The value of the (single) Const input of `layer`, or None."""
    consts = [i for i in layer.inputs if g.layers[i].type == "Const"]
    return g.const(consts[0]) if len(consts) == 1 else None


def _consumer(g: IRGraph, layer: Layer, kind: str) -> Layer:
    """The unique consumer of `layer` of type `kind`."""
    found = [g.layers[c] for c in layer.consumers if g.layers[c].type == kind]
    if len(found) != 1:
        raise IRFormatError(
            f"{g.xml_path}: {layer.name!r} feeds {len(found)} {kind} layers, "
            "expected one (not the MobileStyleGAN graph this loader knows)"
        )
    return found[0]


def _other_input(g: IRGraph, layer: Layer, not_this: str) -> Layer:
    others = [g.layers[i] for i in layer.inputs if i != not_this]
    if len(others) != 1:
        raise IRFormatError(f"{g.xml_path}: {layer.name!r} has unexpected inputs")
    return others[0]


def _expect(g: IRGraph, what: str, value: np.ndarray | float | None, expected: float) -> None:
    if value is None or not np.allclose(np.asarray(value, np.float64), expected, rtol=1e-6, atol=0):
        raise IRFormatError(f"{g.xml_path}: {what} is {value}, expected {expected}")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def mapping_state(g: IRGraph) -> tuple[dict[str, torch.Tensor], int]:
    """State dict of `MappingNetwork` from the mapping graph, and its depth."""
    state: dict[str, torch.Tensor] = {}
    matmuls = g.of_type("MatMul")
    for i, mm in enumerate(matmuls):
        if mm.attrs.get("transpose_b") != "true":
            raise IRFormatError(f"{g.xml_path}: MatMul {mm.name!r} is not x @ W^T")
        state[f"fc.{i}.weight"] = _t(g.const(mm.inputs[1]))
        add = _consumer(g, mm, "Add")
        reshape = _other_input(g, add, mm.id)
        state[f"fc.{i}.bias"] = _t(g.const(reshape.inputs[0]).reshape(-1))
        prelu = _consumer(g, add, "PReLU")
        _expect(g, f"leaky slope of {prelu.name!r}", _const_input(g, prelu), LEAKY_SLOPE)
        _expect(
            g, "activation gain", _const_input(g, _consumer(g, prelu, "Multiply")), math.sqrt(2.0)
        )
    first_add = next(
        layer
        for layer in g.of_type("Add")
        if layer.id not in {_consumer(g, mm, "Add").id for mm in matmuls}
    )
    _expect(g, "pixel-norm epsilon", _const_input(g, first_add), 1e-8)
    return state, len(matmuls)


def _modulation(g: IRGraph, prefix: str, out: str, state: dict[str, torch.Tensor]) -> float:
    """Affine weights of the modulation `prefix` into `out.affine.*`; returns its gain."""
    weight = g.by_name(f"{prefix}.modulation.weight")
    bias = g.by_name(f"{prefix}.modulation.bias")
    state[f"{out}.affine.weight"] = _t(g.const(weight.id))
    state[f"{out}.affine.bias"] = _t(g.const(bias.id).reshape(-1))
    reshape = _consumer(g, _consumer(g, bias, "Add"), "Reshape")
    gain = _const_input(g, _consumer(g, reshape, "Multiply"))
    return 1.0 if gain is None else float(gain.reshape(-1)[0])


def _styled_conv(
    g: IRGraph, prefix: str, out: str, state: dict[str, torch.Tensor], depthwise: bool
) -> float:
    gain = _modulation(g, f"{prefix}.conv", f"{out}.modulation", state)
    bias = g.by_name(f"{prefix}.bias")
    state[f"{out}.bias"] = _t(g.const(bias.id))
    bias_add = _consumer(g, bias, "Add")
    noise_add = _other_input(g, bias_add, bias.id)
    conv = next((g.layers[i] for i in noise_add.inputs if g.layers[i].type == "Convolution"), None)
    if noise_add.type != "Add" or conv is None:
        raise IRFormatError(f"{g.xml_path}: no (convolution + noise) before {bias.name!r}")
    state[f"{out}.noise"] = _t(_const_input(g, noise_add))
    state[f"{out}.weight"] = _t(g.const(conv.inputs[1]))
    if depthwise:
        dw = g.layers[conv.inputs[0]]
        named = g.by_name(f"{prefix}.conv.weight_dw")
        if dw.type != "GroupConvolution" or dw.inputs[1] != named.id:
            raise IRFormatError(f"{g.xml_path}: {named.name!r} does not feed {conv.name!r}")
        state[f"{out}.weight_dw"] = _t(g.const(named.id).reshape(-1, 1, 3, 3))
    _expect(
        g,
        f"leaky slope after {bias.name!r}",
        _const_input(g, _consumer(g, bias_add, "PReLU")),
        LEAKY_SLOPE,
    )
    return gain


def synthesis_state(
    g: IRGraph,
) -> tuple[dict[str, torch.Tensor], tuple[int, ...], dict[str, float]]:
    """State dict of `SynthesisNetwork`, its channel list and the modulation gains found."""
    state: dict[str, torch.Tensor] = {"const": _t(g.const(g.by_name("m.input.input").id))}
    gains = {"conv1": _styled_conv(g, "m.conv1", "conv1", state, depthwise=False)}
    channels = [state["const"].shape[1]]
    i = 0
    while any(layer.name == f"m.layers.{i}.conv1.bias" for layer in g.layers.values()):
        p, o = f"m.layers.{i}", f"blocks.{i}"
        gains[f"{o}.up"] = _modulation(g, f"{p}.up", f"{o}.up.modulation", state)
        gains[f"{o}.conv1"] = _styled_conv(g, f"{p}.conv1", f"{o}.conv1", state, True)
        gains[f"{o}.conv2"] = _styled_conv(g, f"{p}.conv2", f"{o}.conv2", state, True)
        channels.append(state[f"{o}.conv2.bias"].shape[1])
        i += 1
    last = f"m.layers.{i - 1}.to_img"
    gains["to_img"] = _modulation(g, f"{last}.conv", "to_img_modulation", state)
    state["to_img.weight"] = _t(g.const(g.by_name(f"{last}.conv.weight").id))
    state["to_img.bias"] = _t(g.const(g.by_name(f"{last}.bias").id).reshape(-1))
    for layer in g.of_type("GroupConvolutionBackpropData"):  # the IDWT filters
        taps = np.unique(np.abs(g.const(layer.inputs[1])))
        _expect(g, f"Haar filter of {layer.name!r}", taps, HAAR)
    return state, tuple(int(c) for c in channels), gains


def build_networks(
    mapping_graph: IRGraph, synthesis_graph: IRGraph
) -> tuple[MappingNetwork, SynthesisNetwork]:
    """Our two modules with every constant of the released graphs loaded (strict)."""
    mstate, depth = mapping_state(mapping_graph)
    mapping = MappingNetwork(dim=mstate["fc.0.weight"].shape[1], depth=depth)
    mapping.load_state_dict(mstate, strict=True)
    sstate, channels, gains = synthesis_state(synthesis_graph)
    synthesis = SynthesisNetwork(channels, style_dim=mapping.dim)
    synthesis.load_state_dict(sstate, strict=True)
    modules = dict(synthesis.named_modules())
    for name, gain in gains.items():
        module = modules[name if name == "to_img" else name]
        target = synthesis.to_img_modulation if name == "to_img" else module.modulation
        _expect(synthesis_graph, f"modulation gain of {name}", gain, target.gain)
        target.gain = gain
    return mapping.eval().requires_grad_(False), synthesis.eval().requires_grad_(False)


__all__ = ["build_networks", "mapping_state", "synthesis_state"]
