"""Small stand-ins for the sweep tests: a generator, feature spaces, interventions, scorers.

`register()` adds them to the real registries (generators, extractors, interventions), so a
config can name them ("fake-gen", "fake-a", "fake-b", "fake_latent", "fakeblur:<region>"); tests
get them through the `sweep_fakes` fixture (conftest), which removes them again afterwards.
Environment knobs (for the subprocess resume test):
    SWEEP_FAKES_LOG    append one line per generator / intervention call to this file
    SWEEP_FAKES_SLEEP  seconds to sleep in each extractor call (slows a run down)
Generator spec "fake-gen:die-once=PATH": inside a Ray actor, the first `images` call kills the
actor's process (and creates PATH, so the retried task lives): the executor recovery test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from extractors.base import FeatureExtractor
from extractors.scorers import Scorer, register_scorer
from generators.base import Generator

RES = 8


def _log(line: str) -> None:
    path = os.environ.get("SWEEP_FAKES_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")


class FakeGenerator(Generator):
    """z [N, 6] -> a smooth 8x8 RGB image through a fixed random map (batch-independent)."""

    def __init__(self, die_once: str | None = None) -> None:
        self.die_once = die_once
        self.spec, self.z_dim, self.w_dim, self.num_ws = "fake-gen", 6, None, None
        self.resolution, self.weights_sha256, self.device = RES, "fake", torch.device("cpu")
        rng = np.random.default_rng(1234)
        self._w = torch.from_numpy(rng.normal(size=(6, 3 * RES * RES)) / 3)
        self.calls = 0

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        return z * truncation_psi

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = torch.tanh(ws.double() @ self._w)
        return x.reshape(-1, 3, RES, RES).float()

    def images(
        self,
        latents: torch.Tensor,
        *,
        space: str = "z",
        batch_size: int = 16,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        self.calls += 1
        _log(f"images {len(latents)}")
        if self.die_once and not Path(self.die_once).exists() and _in_ray_actor():
            Path(self.die_once).write_text("died\n")
            os._exit(1)
        out = [
            self.synthesis(self.mapping(latents[i : i + batch_size], truncation_psi))
            for i in range(0, len(latents), batch_size)
        ]
        return ((torch.cat(out) * 127.5 + 128).clamp(0, 255)).to(torch.uint8)


def _in_ray_actor() -> bool:
    try:
        import ray

        return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
    except Exception:
        return False


def load_fake_generator(argument: str | None, device: str = "cpu", **kw: Any) -> FakeGenerator:
    die = (
        argument.partition("die-once=")[2]
        if argument and argument.startswith("die-once=")
        else None
    )
    return FakeGenerator(die)


class FakeExtractor(FeatureExtractor):
    """Fixed random projection of the pixels (float64, rounded to float32): deterministic."""

    default_batch_size = 5

    def __init__(self, name: str, dim: int, trained: bool) -> None:
        self.name, self.dim, self.trained = name, dim, trained
        self.weights_sha256 = None if not trained else f"sha-{name}"
        self.preprocessing = {"kind": "flatten", "scale": 1 / 255}
        rng = np.random.default_rng(dim)
        self._w = torch.from_numpy(rng.normal(size=(3 * RES * RES, dim)) / np.sqrt(3 * RES * RES))

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        delay = float(os.environ.get("SWEEP_FAKES_SLEEP", "0") or 0)
        if delay:
            time.sleep(delay)
        x = images.reshape(len(images), -1).double() / 255
        return torch.tanh(x @ self._w * 3).float()


def load_fake_a(device: str = "cpu", allow_untrained: bool = False, **kw: Any) -> FakeExtractor:
    return FakeExtractor("fake-a", 12, True)


def load_fake_b(device: str = "cpu", allow_untrained: bool = False, **kw: Any) -> FakeExtractor:
    if not allow_untrained:
        from extractors.runtime.weights import MissingWeightsError

        raise MissingWeightsError("fake-b has no trained weights; pass allow_untrained=True")
    return FakeExtractor("fake-b", 40, False)


class FakeLatent:
    """Twins from shifted latents (calls the generator, like a learned direction)."""

    synthetic = False
    uses_latents = True
    target_scorer = "bright"

    def __init__(self, amount: float = 0.8) -> None:
        self.name, self.amount = "fake_latent", float(amount)
        self.prepared = 0

    def prepare(self, generator: Any, workdir: Path, progress: bool = False) -> None:
        self.prepared += 1

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        _log(f"counterfactual {self.name} {self.amount}")
        z = generator.latents(seeds)
        z[:, 0] += self.amount
        return generator.images(z, batch_size=batch_size)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "amount": self.amount}


class FakeBlur:
    """Pixel-space distortion of a fixed rectangle ("all" = the whole image)."""

    synthetic = True
    target_scorer = None
    _BOXES = {"top": (0, 3), "bottom": (5, 8), "all": (0, 8)}

    def __init__(self, region: str, strength: float = 0.5) -> None:
        if region not in self._BOXES:
            raise ValueError(f"unknown region {region!r}; allowed: {', '.join(self._BOXES)}")
        self.name, self.region, self.strength = f"fakeblur:{region}", region, float(strength)

    def prepare(self, generator: Any, workdir: Path, progress: bool = False) -> None:
        pass

    def counterfactual(
        self,
        generator: Any,
        seeds: Sequence[int],
        base_images: torch.Tensor,
        batch_size: int = 16,
        progress: bool = False,
    ) -> torch.Tensor:
        _log(f"counterfactual {self.name}")
        out = base_images.clone().double()
        lo, hi = self._BOXES[self.region]
        rows = out[:, :, lo:hi, :]
        out[:, :, lo:hi, :] = (1 - self.strength) * rows + self.strength * rows.mean(
            dim=(2, 3), keepdim=True
        )
        return out.round().clamp(0, 255).to(torch.uint8)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "strength": self.strength}


def bright_scorer(images: torch.Tensor) -> np.ndarray:
    return images.double().mean(dim=(1, 2, 3)).numpy()


def red_scorer(images: torch.Tensor) -> np.ndarray:
    return images[:, 0].double().mean(dim=(1, 2)).numpy()


def load_scorer(name: str) -> Any:
    return {"bright": bright_scorer, "red": red_scorer}[name]


class FakeScorer(Scorer):
    """A fake scorer as an `extractors.scorers` registry entry (so config validation knows it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, images: Any, *args: Any) -> np.ndarray:
        return load_scorer(self.name)(torch.as_tensor(images))


def identity_similarity() -> Any:
    def cosine(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        x, y = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
        return torch.nn.functional.cosine_similarity(x, y, dim=1).numpy()

    return cosine


def register() -> None:
    import extractors
    import generators
    from counterfactual.interventions import register_intervention

    generators.register_generator("fake-gen", "helpers.sweep_fakes:load_fake_generator")
    extractors.register_extractor(
        "fake-a", "helpers.sweep_fakes:load_fake_a", description="test space"
    )
    extractors.register_extractor(
        "fake-b", "helpers.sweep_fakes:load_fake_b", description="test space"
    )
    register_intervention("fake_latent", FakeLatent)
    register_intervention("fakeblur", FakeBlur, prefix=True, arg_help="region")
    for name in ("bright", "red"):
        register_scorer(name, lambda name=name, **_: FakeScorer(name))


def components() -> Any:
    """Executor components with the fake scorers (generator/extractors come from registries)."""
    from counterfactual.engine.components import Components

    return Components(load_scorer=load_scorer, identity_similarity=identity_similarity)


CONFIG = """
name = "fake sweep"
generator = "fake-gen"
seeds = {start = 10, count = 24}
spaces = ["fake-a", {name = "fake-b", allow_untrained = true}]
pairs_per_draw = 16
draws = 3
deltas = [0.0, 0.25, 0.5, 1.0]
seed = 7
batch_size = 4
sample_images = 4

[[interventions]]
name = "fake_latent"
params = {amount = 0.8}

[[interventions]]
name = "fakeblur:top"

[[interventions]]
name = "fakeblur:all"

[region]
reference = "fakeblur:all"
prefix = "fakeblur:"

[verification]
scorers = ["bright", "red"]
"""


def write_config(path: Path, extra: str = "") -> Path:
    path.write_text(CONFIG + extra)
    return path
