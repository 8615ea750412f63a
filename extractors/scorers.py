"""Attribute scorers: uint8 NCHW images -> one float64 score per image.

Scorers check that an intervention changed its attribute (and little else). Registry:
`register_scorer(name, factory)` (a callable or a lazy "module:function" string; the factory
takes keyword options and returns a scorer), `load_scorer(name, **options)`,
`available_scorers()`.

Built-ins:

- ``gender``: P(male) from the gender network (`extractors.spaces.attribute_nets`), in [0, 1];
  P(female) = 1 - score.
- ``age``: expected age in years, sum_k p_k * age_k over the age network's 81 bins
  (0.25, 1, 2, ..., 80), so within [0.25, 80].
- ``hair_length``: hair pixels below the eye line, divided by the squared face height
  (eye line to chin), from the face parsing and the 106 landmarks (`hair_length_score`).
  0 for no hair below the eyes; it grows with the hair's area beside and below the face.
- ``hat``: hat-class pixels divided by the squared face height (`hat_score`); 0 without a hat.
- ``eyeglasses`` (eyeglasses pixels / face pixels), ``smile`` (mouth width / outer-eye-corner
  distance), ``skin_tone`` (ITA in degrees of the parsed skin) and ``bangs`` (hair share of
  the forehead box): `extractors.face.attribute_scores`.
  All parsing scores are computed in the parser's frame (landmarks scaled into it), so they are
  scale-free: the same face at 64 or 1024 px gets the same score up to resampling.

A scorer declares how samples are labelled to learn its direction (``labelling``; see
`counterfactual.interventions.labelling`): ``hat`` and ``eyeglasses`` are rare and use the
threshold rule, the others the quantile rule.
- ``identity``: a *pairwise* scorer (``pairwise = True``): ``scorer(a, b)`` is the cosine
  similarity of the ArcFace embeddings of a[i] and b[i]; `identity_similarity(a, b)` is the
  same with a shared default model.
- ``clip``: `ClipZeroShotScorer`: CLIP zero-shot probability of ``prompts[target]`` among
  ``prompts`` (softmax of CLIP's scaled cosines), e.g. prompts=("a photo of a person
  wearing a hat", "a photo of a person"). Needs OpenAI's ViT-B/32 CLIP weights (the file of
  the ``clip-vit-b32`` space); without them it raises `MissingWeightsError` naming the file.

Scorers built on face detection record ``last_stats`` (images, faces found, fallbacks).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from counterfactual.foundation.registry import Registry
from extractors.face.attribute_scores import (
    BANGS_DOC,
    EYEGLASSES_NEGATIVE_MAX,
    EYEGLASSES_THRESHOLD,
    SMILE_DOC,
)

if TYPE_CHECKING:
    import torch

    from extractors.face.attribute_scores import ParsedFaces

# torch, the networks and extractors.base are imported where a scorer is built or called, so
# that listing or checking scorer names (config validation) stays light.

ScorerFactory = Callable[..., "Scorer"]


class Scorer(ABC):
    """uint8 NCHW images -> float64 scores [N] (pairwise scorers take two batches)."""

    name: str
    pairwise: bool = False
    last_stats: dict[str, int] | None = None
    #: How samples are labelled to learn this attribute's direction
    #: (counterfactual.interventions.labelling); None: the quantile rule (continuous scores).
    labelling: dict[str, Any] | None = None

    @abstractmethod
    def __call__(self, images: torch.Tensor | np.ndarray, *args: Any) -> np.ndarray:
        """Scores [N], float64."""

    def describe(self) -> dict[str, Any]:
        """What determines the scores (for manifests)."""
        return {"name": self.name, "pairwise": self.pairwise}


SCORERS = Registry("scorer")


def register_scorer(name: str, factory: ScorerFactory | str) -> None:
    """Register a scorer factory (callable, or "module:function" imported on first use)."""
    SCORERS.register(name, factory)


def available_scorers() -> list[str]:
    """Names of the registered scorers."""
    return SCORERS.names()


def scorer_unit(name: str) -> str | None:
    """What scorer `name`'s score measures ("P(male)", "expected age (years) ..."), from its
    class's ``score_doc`` without loading any weights; None when unknown."""
    if name not in SCORERS:
        return None
    target = SCORERS.lookup(name)[0].target
    return getattr(target, "score_doc", None) if isinstance(target, type) else None


def scorer_labelling(name: str) -> dict[str, Any] | None:
    """The labelling rule scorer `name` declares for learning its direction (its class's
    ``labelling``, e.g. {"rule": "threshold", "threshold": 0.2}), without loading weights;
    None when it declares none (the quantile rule applies)."""
    if name not in SCORERS:
        return None
    target = SCORERS.lookup(name)[0].target
    rule = getattr(target, "labelling", None) if isinstance(target, type) else None
    return dict(rule) if rule else None


def load_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer `name` with its options (e.g. prompts=... for "clip")."""
    entry, _ = SCORERS.lookup(name)
    scorer = entry.resolve()(**options)
    if not isinstance(scorer, Scorer):
        raise TypeError(
            f"scorer factory for {name!r} returned {type(scorer).__name__}, not a Scorer"
        )
    return scorer


# ------------------------------------------------------------------ face attribute scorers
class _AttributeScorer(Scorer):
    """Shared part of the gender / age scorers: an AttributeExtractor's probabilities."""

    task: str

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        **locator_options: Any,
    ) -> None:
        from extractors.spaces.attribute_nets import AttributeExtractor

        self.extractor = AttributeExtractor(
            self.task, weights=weights, device=device, **locator_options
        )

    @abstractmethod
    def _reduce(self, probs: np.ndarray) -> np.ndarray:
        """Class probabilities [N, classes] -> scores [N]."""

    def __call__(self, images: torch.Tensor | np.ndarray, *args: Any) -> np.ndarray:
        if args:
            raise TypeError(f"{self.name} scores one batch of images")
        probs = self.extractor.probabilities(images)
        self.last_stats = dict(self.extractor.last_stats)
        return self._reduce(probs).astype(np.float64)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "score": self.score_doc, "network": self.extractor.describe()}


class GenderScorer(_AttributeScorer):
    """P(male) in [0, 1] (P(female) = 1 - score)."""

    name, task, score_doc = "gender", "gender", "P(male)"

    def _reduce(self, probs: np.ndarray) -> np.ndarray:
        from extractors.spaces.attribute_nets import GENDER_LABELS

        return probs[:, GENDER_LABELS.index("male")]


class AgeScorer(_AttributeScorer):
    """Expected age in years over the 81 age bins."""

    name, task, score_doc = "age", "age", "expected age (years) over bins 0.25, 1..80"

    def _reduce(self, probs: np.ndarray) -> np.ndarray:
        from extractors.spaces.attribute_nets import AGE_BIN_VALUES

        return probs @ AGE_BIN_VALUES


class IdentityScorer(Scorer):
    """Pairwise: cosine similarity of ArcFace embeddings of a[i] and b[i], in [-1, 1]."""

    name = "identity"
    pairwise = True

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        **locator_options: Any,
    ) -> None:
        from extractors.spaces.arcface import ArcFaceExtractor

        self.extractor = ArcFaceExtractor(
            weights=weights, device=device, normalize=True, **locator_options
        )

    def __call__(self, images: torch.Tensor | np.ndarray, *args: Any) -> np.ndarray:
        if len(args) != 1:
            raise TypeError("identity is pairwise: call it with two image batches (a, b)")
        from extractors.base import as_uint8_nchw

        a, b = as_uint8_nchw(images), as_uint8_nchw(args[0])
        if len(a) != len(b):
            raise ValueError(f"identity needs batches of equal length, got {len(a)} and {len(b)}")
        fa = self.extractor(a).double().numpy()
        stats_a = dict(self.extractor.last_stats)
        fb = self.extractor(b).double().numpy()
        self.last_stats = {k: stats_a[k] + self.extractor.last_stats[k] for k in stats_a}
        return (fa * fb).sum(1)  # both L2-normalised

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "score": "ArcFace cosine similarity",
            "network": self.extractor.describe(),
        }


_DEFAULT_IDENTITY: list[IdentityScorer] = []
_DEFAULT_LOCK = threading.Lock()


def identity_similarity(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """ArcFace cosine similarity of a[i] and b[i] (float64 [N]), with a shared default model."""
    with _DEFAULT_LOCK:
        if not _DEFAULT_IDENTITY:
            _DEFAULT_IDENTITY.append(IdentityScorer())
        scorer = _DEFAULT_IDENTITY[0]
    return scorer(a, b)


# ------------------------------------------------------------------ parsing scorers
def face_geometry(
    landmarks106: np.ndarray, image_size: tuple[int, int], parse_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(eye-line y, face height) per face in the parser's frame: eye line = mean y of the two
    pupils, face height = chin y minus eye-line y (at least 1 parser pixel)."""
    from extractors.face.detect import LMK106_PUPILS

    pts = np.asarray(landmarks106, dtype=np.float64)
    scale_y = parse_size / image_size[0]
    eye_y = pts[:, list(LMK106_PUPILS), 1].mean(axis=1) * scale_y
    chin_y = pts[:, 0, 1] * scale_y
    return eye_y, np.maximum(chin_y - eye_y, 1.0)


def hair_length_score(labels: np.ndarray, eye_y: np.ndarray, face_height: np.ndarray) -> np.ndarray:
    """Hair pixels below the eye line / face height^2 for class maps [N, S, S] (float64 [N])."""
    from extractors.face.parsing import CLASS_INDEX

    labels = np.asarray(labels)
    rows = np.arange(labels.shape[1])[None, :, None] + 0.5  # pixel centres
    below = rows > np.asarray(eye_y)[:, None, None]
    area = ((labels == CLASS_INDEX["hair"]) & below).sum(axis=(1, 2))
    return area.astype(np.float64) / np.asarray(face_height, np.float64) ** 2


def hat_score(labels: np.ndarray, face_height: np.ndarray) -> np.ndarray:
    """Hat pixels / face height^2 for class maps [N, S, S] (float64 [N])."""
    from extractors.face.parsing import CLASS_INDEX

    area = (np.asarray(labels) == CLASS_INDEX["hat"]).sum(axis=(1, 2))
    return area.astype(np.float64) / np.asarray(face_height, np.float64) ** 2


class _ParsingScorer(Scorer):
    """Shared part of the parsing scorers: the shared face analysis (detection, 106 landmarks,
    parsing; each once per image) and a score from the faces in the parser's frame
    (`extractors.face.attribute_scores.ParsedFaces`)."""

    score_doc: str

    def __init__(
        self,
        device: str = "cpu",
        alignment: str = "detect",
        detector_weights: str | os.PathLike[str] | None = None,
        **analyzer_options: Any,
    ) -> None:
        from extractors.face.analysis import shared_analyzer

        self.analyzer = shared_analyzer(alignment, detector_weights, device, **analyzer_options)

    @abstractmethod
    def _score(self, faces: ParsedFaces) -> np.ndarray:
        """Class maps + landmarks (+ pixels) in the parser frame -> scores [N]."""

    def __call__(self, images: torch.Tensor | np.ndarray, *args: Any) -> np.ndarray:
        if args:
            raise TypeError(f"{self.name} scores one batch of images")
        from extractors.base import as_uint8_nchw
        from extractors.face.analysis import CHUNK
        from extractors.face.attribute_scores import ParsedFaces

        images = as_uint8_nchw(images)
        scores, found = [np.zeros(0)], 0
        for i in range(0, len(images), CHUNK):  # class maps of one chunk at a time
            part = images[i : i + CHUNK]
            analysis = self.analyzer(part, parts=("landmarks", "parsing"))
            found += int(analysis.found.sum())
            faces = ParsedFaces.from_analysis(analysis, part)
            scores.append(np.asarray(self._score(faces), dtype=np.float64))
        self.last_stats = {
            "images": len(images),
            "faces_found": found,
            "fallback": len(images) - found,
        }
        return np.concatenate(scores)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "score": self.score_doc,
            "analysis": self.analyzer.describe(("landmarks", "parsing")),
        }


class HairLengthScorer(_ParsingScorer):
    """Hair area below the eye line / face height^2 (see module doc)."""

    name = "hair_length"
    score_doc = "hair pixels below the eye line / (chin y - eye-line y)^2, parser frame"

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        return hair_length_score(faces.labels, faces.eye_y, faces.height)


class HatScorer(_ParsingScorer):
    """Hat area / face height^2 (see module doc); rare: learned with the threshold rule."""

    name = "hat"
    score_doc = "hat pixels / (chin y - eye-line y)^2, parser frame"
    labelling = {"rule": "threshold", "threshold": 0.2, "negative_max": 0.0}

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        return hat_score(faces.labels, faces.height)


class EyeglassesScorer(_ParsingScorer):
    """Eyeglasses pixels / face pixels (`attribute_scores.eyeglasses_score`); rare."""

    name = "eyeglasses"
    score_doc = "eyeglasses pixels / face pixels (skin, brows, eyes, glasses, nose, mouth, lips)"
    labelling = {
        "rule": "threshold",
        "threshold": EYEGLASSES_THRESHOLD,
        "negative_max": EYEGLASSES_NEGATIVE_MAX,
    }

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        from extractors.face.attribute_scores import eyeglasses_score

        return eyeglasses_score(faces.labels)


class SmileScorer(_ParsingScorer):
    """Mouth width / outer-eye-corner distance from the 106 landmarks (`smile_score`)."""

    name = "smile"
    score_doc = SMILE_DOC

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        from extractors.face.attribute_scores import smile_score

        return smile_score(faces)


class SkinToneScorer(_ParsingScorer):
    """Individual typology angle (degrees) of the parsed skin pixels (`ita_score`)."""

    name = "skin_tone"
    score_doc = "ITA = atan2(L* - 50, b*) in degrees of the mean CIELAB of parsed skin pixels (higher: lighter)"

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        from extractors.face.attribute_scores import ita_score

        return ita_score(faces)


class BangsScorer(_ParsingScorer):
    """Hair share of the forehead box above the brows (`bangs_score`)."""

    name = "bangs"
    score_doc = BANGS_DOC

    def _score(self, faces: ParsedFaces) -> np.ndarray:
        from extractors.face.attribute_scores import bangs_score

        return bangs_score(faces)


# ------------------------------------------------------------------ CLIP zero-shot
CLIP_ARCH = "ViT-B-32-quickgelu"
_OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")


def _clip_spec() -> Any:
    from extractors.spaces.backbones import CLIP_VIT_B32

    return CLIP_VIT_B32


class ClipZeroShotScorer(Scorer):
    """CLIP zero-shot: P(prompts[target]) among `prompts` for each image, in [0, 1].

    Images are preprocessed as the ``clip-vit-b32`` space does (shorter side 224, centre crop,
    CLIP mean/std); text through open_clip's tokenizer. probability = softmax over prompts of
    ``logit_scale * cos(image, prompt)``. `weights`: OpenAI's ``ViT-B-32.pt`` or an open_clip
    state dict of the full ViT-B/32 (quickgelu) model; None looks it up like the clip space.
    """

    name = "clip"

    def __init__(
        self,
        prompts: Sequence[str],
        weights: str | os.PathLike[str] | None = None,
        target: int = 0,
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        from extractors.runtime.weights import require
        from extractors.spaces.backbones import read_state_dict

        prompts = self._check_prompts(prompts, target)
        path, sha = require(_clip_spec().weight_file, weights)
        model = self._build_model()
        state = {k: v for k, v in read_state_dict(path).items() if k not in _OPENAI_EXTRA_KEYS}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path}: not a full CLIP ViT-B/32 model (missing {missing[:4]}, "
                f"unexpected {unexpected[:4]})"
            )
        self._setup(model, prompts, target, device, batch_size, sha)

    @staticmethod
    def _check_prompts(prompts: Sequence[str], target: int) -> list[str]:
        if (
            isinstance(prompts, str)
            or len(prompts) < 2
            or not all(isinstance(p, str) and p for p in prompts)
        ):
            raise ValueError(
                "prompts must be a sequence of at least two non-empty strings "
                "(the target prompt and its alternatives)"
            )
        if not 0 <= target < len(prompts):
            raise ValueError(f"target must index prompts (0..{len(prompts) - 1}), got {target}")
        return list(prompts)

    @staticmethod
    def _build_model() -> torch.nn.Module:
        import logging

        from extractors.runtime.torchvision_compat import install

        install()  # before open_clip imports torchvision
        import open_clip

        log = logging.getLogger()
        level = log.level
        log.setLevel(logging.ERROR)  # "no pretrained weights loaded" is expected here
        try:
            return open_clip.create_model(CLIP_ARCH, pretrained=None, device="cpu")
        finally:
            log.setLevel(level)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        prompts: Sequence[str],
        target: int = 0,
        device: str = "cpu",
        batch_size: int = 32,
        weights_sha256: str | None = None,
    ) -> ClipZeroShotScorer:
        """A scorer around an already built open_clip ViT-B/32 model (e.g. loaded elsewhere)."""
        self = cls.__new__(cls)
        self._setup(
            model, cls._check_prompts(prompts, target), target, device, batch_size, weights_sha256
        )
        return self

    def _setup(
        self,
        model: torch.nn.Module,
        prompts: list[str],
        target: int,
        device: str,
        batch_size: int,
        sha: str | None,
    ) -> None:
        import torch

        from extractors.runtime.torchvision_compat import install

        install()
        import open_clip

        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.prompts, self.target, self.batch_size = prompts, target, batch_size
        self.weights_sha256 = sha
        self.preprocess = _clip_spec().preprocessing
        tokens = open_clip.get_tokenizer(CLIP_ARCH)(prompts).to(self.device)
        with torch.no_grad():
            text = self.model.encode_text(tokens).float()
        self.text_features = text / text.norm(dim=-1, keepdim=True)
        self.logit_scale = float(self.model.logit_scale.exp())

    def probabilities(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        """Softmax over prompts for each image: float64 [N, len(prompts)]."""
        import torch

        from extractors.base import as_uint8_nchw

        images = as_uint8_nchw(images)
        out = []
        for i in range(0, len(images), self.batch_size):
            x = self.preprocess(images[i : i + self.batch_size]).to(self.device)
            with torch.no_grad():
                feats = self.model.encode_image(x).float()
            feats = feats / feats.norm(dim=-1, keepdim=True)
            logits = self.logit_scale * feats.double() @ self.text_features.double().T
            out.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.prompts)))

    def __call__(self, images: torch.Tensor | np.ndarray, *args: Any) -> np.ndarray:
        if args:
            raise TypeError("clip scores one batch of images")
        return self.probabilities(images)[:, self.target]

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "score": f"P(prompts[{self.target}]) among prompts",
            "prompts": self.prompts,
            "architecture": CLIP_ARCH,
            "weights_sha256": self.weights_sha256,
            "preprocessing": self.preprocess.describe(),
            "logit_scale": self.logit_scale,
        }


register_scorer("gender", GenderScorer)
register_scorer("age", AgeScorer)
register_scorer("hair_length", HairLengthScorer)
register_scorer("hat", HatScorer)
register_scorer("eyeglasses", EyeglassesScorer)
register_scorer("smile", SmileScorer)
register_scorer("skin_tone", SkinToneScorer)
register_scorer("bangs", BangsScorer)
register_scorer("identity", IdentityScorer)
register_scorer("clip", ClipZeroShotScorer)

__all__ = [
    "Scorer",
    "register_scorer",
    "load_scorer",
    "available_scorers",
    "GenderScorer",
    "AgeScorer",
    "HairLengthScorer",
    "HatScorer",
    "hair_length_score",
    "hat_score",
    "face_geometry",
    "IdentityScorer",
    "identity_similarity",
    "ClipZeroShotScorer",
]
