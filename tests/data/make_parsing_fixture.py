"""Writes tests/data/parsing_fixture.npz with OUR BiSeNet (extractors.face.parsing), after it
was checked against the original model code (max |logit difference| 4.3e-6 at 512 px on DCGAN
faces; the original was run once in a scratch directory and is not part of this repository).

Contents: two DCGAN-DigiFace faces (seeds 0 and 8; seed 8 wears a hat) as uint8 NCHW 64x64,
and their logits at a 128-px input, average-pooled 8x8 to [2, 19, 16, 16], plus the full
logit vectors of a few pixels."""

import numpy as np
import torch
import torch.nn.functional as F

from extractors.face.parsing import load_bisenet, preprocess
from generators import load_generator

SEEDS, SIZE = [0, 8], 128
PIXELS = np.array([[64, 64], [20, 64], [100, 40], [5, 5], [120, 64]])  # (y, x) at SIZE

images = load_generator("dcgan-digiface").images_for_seeds(SEEDS)
net, sha = load_bisenet()
with torch.no_grad():
    logits = net(preprocess(images, SIZE))
np.savez_compressed(
    "tests/data/parsing_fixture.npz",
    images=images.numpy(),
    seeds=np.array(SEEDS),
    size=SIZE,
    pooled=F.avg_pool2d(logits, 8).numpy(),
    pixels=PIXELS,
    pixel_logits=logits[:, :, PIXELS[:, 0], PIXELS[:, 1]].numpy(),
    weights_sha256=sha,
)
