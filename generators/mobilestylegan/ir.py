"""A small reader of OpenVINO IR v10 files (an XML graph plus a .bin of constants).

Nothing is executed: the XML is parsed into layers and edges, and each `Const` layer's bytes
are read from the .bin by its offset, size, element type and shape. The MobileStyleGAN
loader walks this graph to find which constant feeds which operation of its own network.
Every malformed piece (unknown element type, a constant outside the .bin, a size that does
not match its shape, a dangling edge) raises `IRFormatError` naming the file.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_ELEMENT_TYPES = {
    "f32": np.float32,
    "f16": np.float16,
    "i64": np.int64,
    "i32": np.int32,
    "u8": np.uint8,
    "i8": np.int8,
    "boolean": np.bool_,
}
_MAX_XML_BYTES = 64 << 20


class IRFormatError(ValueError):
    """An IR file that this reader cannot interpret; the message names the file."""


@dataclass
class Layer:
    """One node of the graph: its id, type, name, attributes and output shapes."""

    id: str
    type: str
    name: str
    attrs: dict[str, str]
    output_shapes: list[tuple[int, ...]]
    inputs: list[str] = field(default_factory=list)  # producer layer id per input port
    consumers: list[str] = field(default_factory=list)  # layer ids reading any output


@dataclass
class IRGraph:
    """A parsed IR: layers by id and the constants' values (read lazily from the .bin)."""

    xml_path: Path
    bin_path: Path
    layers: dict[str, Layer]
    _blob: bytes

    def const(self, layer_id: str) -> np.ndarray:
        """The value of Const layer `layer_id` as a numpy array (a copy)."""
        layer = self.layers[layer_id]
        if layer.type != "Const":
            raise IRFormatError(
                f"{self.xml_path}: layer {layer_id} ({layer.name}) is a {layer.type}, not a Const"
            )
        a = layer.attrs
        try:
            dtype = np.dtype(_ELEMENT_TYPES[a["element_type"]])
            offset, size = int(a["offset"]), int(a["size"])
            shape = tuple(int(s) for s in a.get("shape", "").replace(" ", "").split(",") if s)
        except (KeyError, ValueError) as exc:
            raise IRFormatError(
                f"{self.xml_path}: Const {layer.name!r} has bad data attributes {a}: {exc}"
            ) from None
        count = int(np.prod(shape)) if shape else 1
        if size != count * dtype.itemsize or offset < 0 or offset + size > len(self._blob):
            raise IRFormatError(
                f"{self.bin_path}: Const {layer.name!r} (offset {offset}, "
                f"size {size}, shape {shape}, {dtype}) does not fit the "
                f"{len(self._blob)}-byte weight file"
            )
        return (
            np.frombuffer(self._blob, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
        )

    def by_name(self, name: str) -> Layer:
        """The unique layer called `name`."""
        found = [layer for layer in self.layers.values() if layer.name == name]
        if len(found) != 1:
            raise IRFormatError(
                f"{self.xml_path}: expected one layer named {name!r}, found {len(found)}"
            )
        return found[0]

    def of_type(self, kind: str) -> list[Layer]:
        """Layers of one type, in the file's (topological) order."""
        return [layer for layer in self.layers.values() if layer.type == kind]


def _shape(port: ET.Element) -> tuple[int, ...]:
    return tuple(int(d.text or "0") for d in port.findall("dim"))


def read_ir(xml_path: str | os.PathLike[str], bin_path: str | os.PathLike[str]) -> IRGraph:
    """Parse an IR v10 pair into an `IRGraph`."""
    xml_path, bin_path = Path(xml_path), Path(bin_path)
    if xml_path.stat().st_size > _MAX_XML_BYTES:
        raise IRFormatError(
            f"{xml_path}: {xml_path.stat().st_size} bytes is too large for an IR graph"
        )
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise IRFormatError(f"{xml_path}: not valid XML ({exc})") from None
    if root.tag != "net" or root.get("version") not in ("10", "11"):
        raise IRFormatError(
            f"{xml_path}: not an OpenVINO IR v10/v11 network "
            f"(root <{root.tag} version={root.get('version')!r}>)"
        )
    layers: dict[str, Layer] = {}
    for el in root.iterfind("layers/layer"):
        data = el.find("data")
        outputs = el.find("output")
        shapes = [_shape(p) for p in outputs.findall("port")] if outputs is not None else []
        lid = el.get("id")
        if lid is None or lid in layers:
            raise IRFormatError(f"{xml_path}: layer without a unique id ({el.attrib})")
        layers[lid] = Layer(
            lid,
            el.get("type", ""),
            el.get("name", ""),
            dict(data.attrib) if data is not None else {},
            shapes,
        )
    ports: dict[str, list[tuple[int, str]]] = {}
    for edge in root.iterfind("edges/edge"):
        src, dst = edge.get("from-layer"), edge.get("to-layer")
        if src not in layers or dst not in layers:
            raise IRFormatError(f"{xml_path}: edge {edge.attrib} names a missing layer")
        ports.setdefault(dst, []).append((int(edge.get("to-port", "0")), src))
        layers[src].consumers.append(dst)
    for lid, ins in ports.items():
        layers[lid].inputs = [src for _, src in sorted(ins)]
    return IRGraph(xml_path, bin_path, layers, bin_path.read_bytes())


__all__ = ["IRFormatError", "IRGraph", "Layer", "read_ir"]
