"""The face parser's label order (CelebAMask-HQ, 19 classes), in a module free of torch."""

#: CelebAMask-HQ label order of the parser's 19 output channels.
PARSING_CLASSES = (
    "background",
    "skin",
    "brow_l",
    "brow_r",
    "eye_l",
    "eye_r",
    "eyeglasses",
    "ear_l",
    "ear_r",
    "earring",
    "nose",
    "mouth",
    "lip_u",
    "lip_l",
    "neck",
    "necklace",
    "cloth",
    "hair",
    "hat",
)
CLASS_INDEX = {name: i for i, name in enumerate(PARSING_CLASSES)}

__all__ = ["PARSING_CLASSES", "CLASS_INDEX"]
