"""Recompute `extractors.face.framing.CELEBA_TEMPLATE_178x218`: the mean SCRFD landmarks of the
celeba-999 images (already in the img_align_celeba frame), and their spread.

    python experiments/celeba_template.py          # about 15-30 s on 2 cores
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from extractors.face.framing import CELEBA_TEMPLATE_178x218, FaceAligner
from generators.builtin_sets import builtin_path


def main() -> None:
    aligner = FaceAligner("celeba")
    folder = builtin_path("celeba-999")
    kps, missing = [], []
    for path in sorted(folder.iterdir()):
        found = aligner.landmarks(np.array(Image.open(path).convert("RGB")))
        if found is None:
            missing.append(path.name)
        else:
            kps.append(found)
    kps = np.array(kps)
    print(f"{len(kps)} of {len(kps) + len(missing)} faces found; no face: {missing}")
    print("mean (x, y):", np.round(kps.mean(0), 2).tolist())
    print("sd   (x, y):", np.round(kps.std(0), 2).tolist())
    print(
        "max |mean - pinned template| px:",
        float(np.abs(kps.mean(0) - CELEBA_TEMPLATE_178x218).max()),
    )
    eye = np.hypot(*(kps[:, 1] - kps[:, 0]).T)
    print(
        f"eye distance: median {np.median(eye):.1f} px = {np.median(eye) / 178:.3f} of the 178-px square"
    )


if __name__ == "__main__":
    main()
