"""MobileStyleGAN (FFHQ, 1024 px): a realistic face generator with real weights from a wheel.

Spec: "mobilestylegan-ffhq" (working resolution 512) or "mobilestylegan-ffhq:R" for another
working resolution R (e.g. 256 or 1024). Each face is synthesised once at 1024x1024 and
reduced to R x R (area average, antialiased) before it becomes uint8.

Weights: the OpenVINO IR files `MappingNetwork.{xml,bin}` and `SynthesisNetwork.{xml,bin}` in
`random_face/data/` of the registry wheel `random-face==2021.7.21.1` (install it with
`pip install --no-deps`; its own Python code is never imported). `ir.py` reads the files,
`weights.py` maps their constants onto our modules in `network.py`, `generator.py` puts
them behind the project's Generator interface.
"""

from generators.mobilestylegan.generator import (
    MOBILESTYLEGAN_INSTALL,
    W_AVG_SEEDS,
    MobileStyleGANGenerator,
    load_mobilestylegan_ffhq,
)

__all__ = [
    "MobileStyleGANGenerator",
    "load_mobilestylegan_ffhq",
    "W_AVG_SEEDS",
    "MOBILESTYLEGAN_INSTALL",
]
