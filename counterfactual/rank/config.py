"""Rank-run configuration: TOML -> validated pydantic models.

A rank run compares several generators with one reference set in every feature space:

    name = "rank demo"
    seeds = {start = 0, count = 200}          # images per generator (equal for all)
    spaces = ["inception-fid", {name = "random-inception", allow_untrained = true}]
    generators = ["dcgan-digiface", {spec = "dcgan-digiface", truncation_psi = 0.7}]
    [reference]
    spec = "folder:/data/real_faces"          # real images ...
    # spec = "dcgan-digiface"                 # ... or a generator's own samples
    seeds = {start = 0, count = 500}
    [metrics]
    n_boot = 200
    [explained]                               # optional, off by default; see ExplainedConfig
    enabled = true
    scorers = ["gender", "age"]
    thresholds = {gender = 0.5, age = 40}

Reference: a folder of real images ("folder:PATH") measures each generator's distance to
reality. When no real set is available, a generator's own samples (at seeds no generator
uses) can stand in; the distances then measure how far each generator is from THAT
generator, not from real faces, and every output says so (`reference.real` is False).

Every generator draws the same number of images (FD and KID depend on the sample size, so
rankings are only meaningful at equal n). A set's `seeds` are latent seeds, or file indices
for a sample folder. Every table forbids unknown keys; `load_rank_config` turns any
validation failure into one `ConfigError` naming each offending key and its allowed values
(the sweep config's error formatting, `counterfactual.config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from counterfactual.config import (
    ConfigError,
    ExecutorConfig,
    GeneratorConfig,
    RunConfigBase,
    SeedsConfig,
    SpaceConfig,
    StrictModel,
    no_duplicates,
    read_toml,
    validate_model,
)
from counterfactual.run.schemas import REFERENCE_ID

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FOLDER_SCHEME",
    "REFERENCE_ID",
    "ConfigError",
    "ExplainedConfig",
    "MetricsConfig",
    "RankConfig",
    "ReferenceConfig",
    "SetConfig",
    "load_rank_config",
    "validate_rank_config",
]

FOLDER_SCHEME = "folder"


class SetConfig(GeneratorConfig):
    """One image set: a generator spec (or "folder:PATH"), its truncation and its seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    align_generators: ClassVar[bool] = True

    id: str | None = Field(
        None,
        description="label in tables and file names (default: derived from spec and truncation)",
    )
    truncation_psi: float = Field(1.0, gt=0, description="truncation trick strength (1 = none)")
    truncation_cutoff: int | None = Field(
        None, ge=0, description="StyleGAN: truncate only the first ws"
    )
    seeds: SeedsConfig | None = Field(
        None,
        description="latent seeds, or file indices for a folder (default: the top-level seeds)",
    )

    @model_validator(mode="after")
    def _folder_has_no_latents(self) -> SetConfig:
        if self.is_folder and (self.truncation_psi != 1.0 or self.truncation_cutoff is not None):
            raise ValueError(
                f"{self.spec!r} is a sample folder (no latents): truncation_psi "
                "must be 1 and truncation_cutoff unset"
            )
        if self.id is not None and (not self.id.strip() or self.id == REFERENCE_ID):
            raise ValueError(f"id {self.id!r} is empty or reserved; choose another")
        return self

    @property
    def key(self) -> str:
        """The set's label: `id`, or the spec with its truncation and framing
        ("dcgan-digiface@psi=0.7@align=celeba")."""
        if self.id:
            return self.id
        out = self.spec
        if self.truncation_psi != 1.0:
            out += f"@psi={self.truncation_psi:g}"
        if self.truncation_cutoff is not None:
            out += f"@cutoff={self.truncation_cutoff}"
        if self.align is not None:
            out += f"@align={self.align}"
        return out


class ReferenceConfig(SetConfig):
    """The reference set every generator is compared with."""

    real: bool | None = Field(
        None,
        description="whether the set holds real images (default: "
        "true for folders, false for generators)",
    )

    @model_validator(mode="after")
    def _generators_are_not_real(self) -> ReferenceConfig:
        if self.real and not self.is_folder:
            raise ValueError(
                f"reference {self.spec!r} is a generator, so it cannot be real data; "
                "use a 'folder:PATH' of real images, or drop 'real'"
            )
        return self

    @property
    def is_real(self) -> bool:
        return self.is_folder if self.real is None else bool(self.real)


class MetricsConfig(StrictModel):
    """Statistics per generator x space (counterfactual.metrics)."""

    n_boot: int = Field(200, ge=2, description="bootstrap replicates for CIs and rank stability")
    ci: float = Field(0.95, gt=0, lt=1, description="confidence level")
    pr_k: int = Field(3, ge=1, description="k of precision/recall (k-NN radii)")
    dc_k: int = Field(5, ge=1, description="k of density/coverage (k-NN radii)")
    kid_subsets: int = Field(100, ge=1, description="KID subsets")
    kid_subset_size: int = Field(
        1000,
        ge=2,
        description="KID subset size (at most; a subset "
        "never holds more rows than the smaller set)",
    )
    floor_splits: int = Field(
        5,
        ge=0,
        description="random half splits of the reference for its "
        "own FD floor at n/2, and each generator's FD at n/2 (0: off)",
    )


# Presence threshold of each built-in scorer: an image "has" the attribute when its score >= it.
# gender scores P(male), so 0.5 splits male / female; age scores the expected age in years, so
# 40 splits "40 or older" from younger faces.
DEFAULT_THRESHOLDS: dict[str, float] = {"gender": 0.5, "age": 40.0}


class ExplainedConfig(StrictModel):
    """Explained FD (`counterfactual.analysis.explained`): how much of each generator's FD the
    prevalence gap of each scored attribute explains, per space."""

    enabled: bool = Field(
        False,
        description="opt-in (it can take more time than the rest of "
        "the run): true computes it, and a scorer that cannot load is an error",
    )
    scorers: tuple[str, ...] = Field(
        ("gender", "age"), description="attribute scorers (extractors.scorers.load_scorer names)"
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="presence threshold "
        "per scorer (score >= threshold); defaults: gender 0.5 "
        "(P(male)), age 40 (years)",
    )
    n_boot: int = Field(200, ge=0, description="bootstrap replicates of the CIs (0: none)")
    method: Literal["weighted", "resample"] = Field(
        "weighted", description="prevalence matching: importance weights or resampling"
    )

    @field_validator("scorers")
    @classmethod
    def _some_scorers(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        if not items:
            raise ValueError("list at least one scorer (or set enabled = false)")
        no_duplicates(list(items), "scorer")
        return items

    @model_validator(mode="after")
    def _every_scorer_has_a_threshold(self) -> ExplainedConfig:
        extra = sorted(set(self.thresholds) - set(self.scorers))
        if extra:
            raise ValueError(
                f"thresholds given for {extra}, which are not among the scorers "
                f"{list(self.scorers)}"
            )
        missing = [
            s for s in self.scorers if s not in self.thresholds and s not in DEFAULT_THRESHOLDS
        ]
        if missing:
            raise ValueError(
                f"no threshold for scorers {missing} (built-in defaults exist only "
                f"for {sorted(DEFAULT_THRESHOLDS)}); add them to explained.thresholds"
            )
        return self

    def threshold_map(self) -> dict[str, float]:
        """Each scorer's threshold (configured, else the built-in default)."""
        return {
            s: float(self.thresholds.get(s, DEFAULT_THRESHOLDS.get(s, 0.0))) for s in self.scorers
        }


class RankConfig(RunConfigBase):
    """A whole rank run."""

    kind: ClassVar[str] = "rank"
    name: str = "rank"
    description: str = ""
    device: str = "cpu"
    batch_size: int = Field(16, gt=0)
    seeds: SeedsConfig
    reference: ReferenceConfig
    generators: tuple[SetConfig, ...]
    spaces: tuple[SpaceConfig, ...]
    seed: int = Field(0, ge=0, description="seed of the bootstrap and KID subsets")
    sample_images: int = Field(16, ge=0, description="images of each set kept for the report")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    explained: ExplainedConfig = Field(default_factory=ExplainedConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

    @field_validator("generators")
    @classmethod
    def _some_generators(cls, items: tuple[SetConfig, ...]) -> tuple[SetConfig, ...]:
        if not items:
            raise ValueError("list at least one generator")
        no_duplicates([g.key for g in items], "generator (set 'id' to tell them apart)")
        return items

    @model_validator(mode="after")
    def _consistent(self) -> RankConfig:
        counts = {g.key: len(self.seeds_of(g)) for g in self.generators}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{k}: {n}" for k, n in counts.items())
            raise ValueError(
                f"every generator must draw the same number of images (FD and KID "
                f"depend on n, so rankings need equal n); got {listed}"
            )
        n_min = min([*counts.values(), len(self.seeds_of(self.reference))])
        for key, k in (("pr_k", self.metrics.pr_k), ("dc_k", self.metrics.dc_k)):
            if k > n_min - 1:
                raise ValueError(
                    f"metrics.{key} = {k} needs at least {k + 1} images per set; "
                    f"the smallest set has {n_min}"
                )
        ref_seeds = set(self.seeds_of(self.reference))
        for g in self.generators:
            if g.spec == self.reference.spec and ref_seeds & set(self.seeds_of(g)):
                raise ValueError(
                    f"reference seeds overlap those of generator {g.key!r}, which "
                    f"uses the same spec {g.spec!r}: shared images would bias its "
                    "distance towards 0; give [reference] a disjoint seed range"
                )
        return self

    # ---- derived views -------------------------------------------------------------
    def seeds_of(self, item: SetConfig) -> list[int]:
        """A set's seeds (its own, else the top-level ones)."""
        return (item.seeds or self.seeds).resolve()

    @property
    def seed_list(self) -> list[int]:
        """The generators' default seeds (recorded in the manifest)."""
        return self.seeds.resolve()


def validate_rank_config(data: dict[str, Any], source: str = "<config>") -> RankConfig:
    """Validate a rank-config mapping; raise one ConfigError listing every problem."""
    return validate_model(RankConfig, data, source)


def load_rank_config(path: str | Path) -> RankConfig:
    """Read and validate a TOML rank config."""
    return validate_model(RankConfig, read_toml(path, "rank"), source=str(path))
