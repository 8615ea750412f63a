"""Sweep configuration: TOML -> validated pydantic models.

A sweep config names a generator, the seeds of the base faces, the feature spaces, the
interventions (each makes one counterfactual twin per base face) and the dose-response grid:

    generator = "dcgan-digiface"        # or [generator] spec = "..."
    seeds = {start = 0, count = 200}    # or seeds = [3, 5, 8]
    spaces = ["inception-fid", {name = "random-inception", allow_untrained = true}]
    pairs_per_draw = 160
    [[interventions]]
    name = "gender"
    params = {strength = 3.0}
    [[interventions]]
    name = "rotate"
    strengths = [10, 30]                # -> rotate@10, rotate@30 (`expand_strengths`)

Every table forbids unknown keys. `load_config` turns any validation failure into one
`ConfigError` whose message names each offending key and the values it allows. `RunConfigBase`
and the helpers below the models (duplicate check, TOML reading, error formatting) also serve
the rank config, `counterfactual.rank.config`.
"""

from __future__ import annotations

import json
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from counterfactual.errors import UserError

DEFAULT_DELTAS: tuple[float, ...] = tuple(round(i * 0.05, 10) for i in range(21))
_DEVICE_RE = re.compile(r"^(cpu|cuda(:\d+)?)$")
_ID_RE = re.compile(r"^[A-Za-z0-9_:+=-][A-Za-z0-9_.:+=@-]*$")
MAX_SEED = 2**32 - 1  # numpy RandomState seeds (generators.latents_from_seeds)
LATENT_FREE_SCHEMES = ("folder",)  # generator schemes without latents (sample folders)
# Keys that change how a run executes but never its results (ignored when comparing configs).
EXECUTION_KEYS: tuple[str, ...] = ("device", "batch_size", "executor")
# Add-on outputs with their own task markers that never change the run's tables (ignored
# when comparing configs, so turning one on for a finished run needs no --force).
ADD_ON_KEYS: tuple[str, ...] = ("attention",)


class ConfigError(UserError):
    """A sweep or rank config is invalid; the message names the file, the keys and allowed values."""


class StrictModel(BaseModel):
    """A frozen table that forbids unknown keys. `shorthand = (type, key)`: a bare value of
    that type stands for the table {key = value} (e.g. a string for {spec = "..."})."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shorthand: ClassVar[tuple[type, str] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _expand_shorthand(cls, data: Any) -> Any:
        if cls.shorthand is not None and isinstance(data, cls.shorthand[0]):
            return {cls.shorthand[1]: data}
        return data


class RunConfigBase(StrictModel):
    """What the configs of whole runs (sweep, rank) share: checks of their `device` and
    `spaces` keys, and views; `kind` names the config in messages."""

    kind: ClassVar[str] = "run"

    @field_validator("device", check_fields=False)
    @classmethod
    def _valid_device(cls, device: str) -> str:
        if not _DEVICE_RE.match(device):
            raise ValueError(f"unknown device {device!r}; allowed: 'cpu', 'cuda', 'cuda:<index>'")
        return device

    @field_validator("spaces", check_fields=False)
    @classmethod
    def _unique_spaces(cls, spaces: tuple[Any, ...]) -> tuple[Any, ...]:
        if not spaces:
            raise ValueError("list at least one feature space")
        no_duplicates([s.name for s in spaces], "feature space")
        return spaces

    def identity(self) -> dict[str, Any]:
        """Everything that determines the results (execution-only keys dropped)."""
        data = self.model_dump(mode="json")
        for key in (*EXECUTION_KEYS, *ADD_ON_KEYS):
            data.pop(key, None)
        return data

    def with_overrides(self, **overrides: Any) -> Self:
        """A validated copy with some top-level keys replaced (None values ignored)."""
        data = self.model_dump(mode="python")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return validate_model(type(self), data, source="<overrides>")


FOLDER_OPTIONS = ("skip_bad", "min_size", "resolution", "alpha")  # sample folders only
FRAMINGS = ("celeba", "ffhq")  # extractors.face.framing.FRAMINGS


class GeneratorConfig(StrictModel):
    """Which generator makes the base faces (a `generators.load_generator` spec), and the
    options of a sample folder ("folder:PATH" or a built-in set such as "folder:celeba-999"):
    `skip_bad`, `min_size`, `resolution`, `alpha` (`generators.folder`) and `align`."""

    shorthand: ClassVar[tuple[type, str] | None] = (str, "spec")
    align_generators: ClassVar[bool] = False  # may `align` frame a generator's own faces?
    spec: str = Field(
        "dcgan-digiface",
        description="generator spec, e.g. 'dcgan-digiface', "
        "'stylegan2:/path/net.pkl', 'folder:/path', 'folder:celeba-999'",
    )
    skip_bad: bool | None = Field(
        None,
        description="folders: leave out (and name) files that "
        "fail to decode, are below min_size or, aligned, show no face",
    )
    min_size: int | None = Field(
        None, ge=1, description="folders: smallest shorter side in px (default 8)"
    )
    resolution: int | None = Field(
        None,
        ge=1,
        description="folders: working resolution (default: the most common shorter side)",
    )
    alpha: Literal["drop", "black", "white"] | None = Field(
        None, description="folders: transparency rule (default 'drop')"
    )
    align: Literal["celeba", "ffhq"] | None = Field(
        None,
        description="frame every face from detected landmarks: 'celeba' "
        "(img_align_celeba) or 'ffhq' (FFHQ's crop); default: unaligned",
    )

    @model_validator(mode="after")
    def _options_fit_the_source(self) -> Self:
        if self.is_folder:
            return self
        given = [k for k in FOLDER_OPTIONS if getattr(self, k) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: option(s) of a sample folder, but {self.spec!r} "
                "is a generator; use them with 'folder:PATH'"
            )
        if self.align is not None and not self.align_generators:
            raise ValueError(
                f"align: a sweep aligns sample folders only ({self.spec!r} is a "
                "generator: its twins are made from its own images); align "
                "generated sets in a rank config"
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_options(self, handler: Any) -> dict[str, Any]:
        """Options left unset are omitted (config identities of older runs stay equal)."""
        data: dict[str, Any] = handler(self)
        for key in (*FOLDER_OPTIONS, "align"):
            if data.get(key, 0) is None:
                data.pop(key)
        return data

    @property
    def is_folder(self) -> bool:
        return self.spec.partition(":")[0] in LATENT_FREE_SCHEMES

    def loader_options(self) -> dict[str, Any]:
        """The options given, as `generators.load_generator` keyword arguments."""
        return {
            k: getattr(self, k) for k in (*FOLDER_OPTIONS, "align") if getattr(self, k) is not None
        }

    @field_validator("spec")
    @classmethod
    def _known_scheme(cls, spec: str) -> str:
        import generators

        scheme = spec.partition(":")[0]
        if scheme not in generators.available():
            raise ValueError(
                f"unknown generator {spec!r}; allowed schemes: "
                f"{', '.join(generators.available())}{generators.folder_hint(spec)}"
            )
        return spec


class SeedsConfig(StrictModel):
    """Seeds of the base faces: `count` consecutive seeds from `start`, or explicit `values`."""

    shorthand: ClassVar[tuple[type, str] | None] = (list, "values")
    start: int = Field(0, ge=0)
    count: int | None = Field(None, gt=0)
    values: tuple[int, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SeedsConfig:
        if (self.count is None) == (self.values is None):
            raise ValueError("give either 'count' (with optional 'start') or explicit 'values'")
        if self.values is not None:
            if not self.values:
                raise ValueError("the seed list is empty")
            if len(set(self.values)) != len(self.values):
                raise ValueError("the seed list has duplicates")
            if min(self.values) < 0:
                raise ValueError("seeds must be >= 0")
            if max(self.values) > MAX_SEED:
                raise ValueError(f"seeds must be <= {MAX_SEED} (2**32 - 1)")
        elif self.start + int(self.count or 0) - 1 > MAX_SEED:  # checked without listing them
            raise ValueError(
                f"start + count - 1 = {self.start + int(self.count or 0) - 1} exceeds the "
                f"largest seed {MAX_SEED} (2**32 - 1)"
            )
        return self

    def __len__(self) -> int:
        """The number of seeds (without listing them)."""
        return len(self.values) if self.values is not None else int(self.count or 0)

    def resolve(self) -> list[int]:
        """The seeds, in order."""
        if self.values is not None:
            return [int(s) for s in self.values]
        return list(range(self.start, self.start + int(self.count or 0)))


class SpaceConfig(StrictModel):
    """A feature space. A space whose trained weights are missing runs with random weights only
    with `allow_untrained = true`; a space random by design (random-inception) needs no flag.
    Either way a random-weight space is labelled untrained everywhere."""

    shorthand: ClassVar[tuple[type, str] | None] = (str, "name")
    name: str
    allow_untrained: bool = False
    weights: str | None = Field(
        None,
        description="explicit weight file (else $COUNTERFACTUAL_WEIGHTS, "
        "then an installed carrier package)",
    )

    @field_validator("name")
    @classmethod
    def _known_space(cls, name: str) -> str:
        import extractors

        if not extractors.space_known(name):
            raise ValueError(
                f"unknown feature space {name!r}; allowed: {', '.join(known_spaces())}"
            )
        return name


class InterventionConfig(StrictModel):
    """One intervention (a `counterfactual.interventions.build_intervention` name + params)."""

    shorthand: ClassVar[tuple[type, str] | None] = (str, "name")
    name: str
    id: str | None = Field(None, description="unique label (defaults to name)")
    params: dict[str, Any] = Field(default_factory=dict)
    dose: bool = Field(True, description="include in the dose-response table")
    _uses_latents: bool = PrivateAttr(False)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        if value is not None and not _ID_RE.match(value):
            raise ValueError(
                f"id {value!r} may use only letters, digits and _ . : + = @ - and may "
                "not start with '.' (it names files in the run directory)"
            )
        return value

    @model_validator(mode="after")
    def _buildable(self) -> InterventionConfig:
        try:
            from counterfactual.interventions import build_intervention
        except ImportError:  # interventions not installed: checked when the sweep runs
            return self
        try:
            built = build_intervention(self.name, **self.params)
        except (ValueError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        self._uses_latents = bool(getattr(built, "uses_latents", False))
        return self

    @property
    def uses_latents(self) -> bool:
        """True when the twins need the generator's latents (unknown: False)."""
        return self._uses_latents

    @property
    def key(self) -> str:
        """The unique label of this intervention in tables and file names."""
        return self.id or self.name


class VerificationConfig(StrictModel):
    """Checks that each edit changed its attribute and little else (see interventions.verify)."""

    enabled: bool = True
    scorers: tuple[str, ...] = Field(
        ("gender", "age"),
        description="attribute scorers run on base and twin (extractors.scorers.load_scorer names)",
    )

    @field_validator("scorers")
    @classmethod
    def _known_scorers(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        from extractors.scorers import available_scorers

        known = available_scorers()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown scorer {unknown[0]!r}; allowed: {', '.join(known)}")
        no_duplicates(names, "scorer")
        return names

    identity: bool = Field(True, description="measure ArcFace identity similarity twin vs base")
    min_target_effect: float = Field(
        0.5, ge=0, description="least target shift, in SDs of the base scores"
    )
    min_target_shift: float | None = Field(
        None, ge=0, description="least target shift in score units"
    )
    max_leakage_effect: float = Field(
        0.5, ge=0, description="largest shift (SDs) of any other scorer"
    )
    min_identity: float = Field(
        0.3, ge=-1, le=1, description="least mean ArcFace cosine twin vs base"
    )
    ci: float = Field(0.95, gt=0, lt=1)
    method: Literal["t", "bootstrap"] = "t"
    n_boot: int = Field(2000, gt=0)
    seed: int = Field(0, ge=0)

    def thresholds(self) -> dict[str, Any]:
        """When to flag an edit (what `counterfactual.interventions.verify` records)."""
        return self.model_dump(exclude={"enabled", "scorers", "identity"})


class RegionConfig(StrictModel):
    """Region distortions: FD(base, region-distorted) / FD(base, reference)."""

    reference: str = "blur:all"
    prefix: str = Field(
        "blur:", description="interventions whose name starts with this are regions"
    )


class ExecutorConfig(StrictModel):
    """Where the image work runs: "local" (this process) or "ray" (shards of seeds on a Ray
    cluster, see counterfactual.sweep.ray_executor). Never changes results."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = Field(
        None,
        description="Ray cluster address ('auto', 'HOST:PORT', "
        "'ray://HOST:10001'); unset: start a local Ray instance",
    )
    workers: int = Field(2, ge=1, description="Ray actors (each keeps the models loaded)")
    gpus_per_worker: float = Field(0, ge=0, description="GPUs per actor (> 0: actors run on CUDA)")
    cpus_per_worker: float = Field(1, gt=0)
    shard_size: int = Field(64, ge=1, description="seeds per shard task")


class AttentionConfig(StrictModel):
    """FD attention maps after the sweep (`counterfactual.attention`; `attention = true` is
    short for `[attention] enabled = true`). Off by default: the maps need the images again."""

    shorthand: ClassVar[tuple[type, str] | None] = (bool, "enabled")
    enabled: bool = False
    n: int = Field(
        64,
        ge=2,
        description="faces mapped per intervention (from the second half "
        "of the seeds; the first half is the reference set)",
    )
    spaces: tuple[str, ...] = Field(
        (), description="spaces to map (default: every space of the run that has a map)"
    )


class SweepConfig(RunConfigBase):
    """A whole sweep."""

    kind: ClassVar[str] = "sweep"
    name: str = "sweep"
    description: str = ""
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    device: str = "cpu"
    batch_size: int = Field(16, gt=0)
    seeds: SeedsConfig
    spaces: tuple[SpaceConfig, ...]
    interventions: tuple[InterventionConfig, ...]
    deltas: tuple[float, ...] = DEFAULT_DELTAS
    draws: int = Field(10, gt=0)
    pairs_per_draw: int = Field(..., ge=4)
    seed: int = Field(0, ge=0)
    sample_images: int = Field(16, ge=0, description="images of each set kept for report grids")
    region: RegionConfig = Field(default_factory=RegionConfig)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    attention: AttentionConfig = Field(default_factory=AttentionConfig)
    claims: tuple[str, ...] = Field(
        (),
        description="claims files (TOML, the form of counterfactual/analysis/claims.toml) "
        "the report tests besides the reference study's",
    )

    @field_validator("claims")
    @classmethod
    def _claims_files_exist(cls, files: tuple[str, ...]) -> tuple[str, ...]:
        missing = [f for f in files if not Path(f).is_file()]
        if missing:
            raise ValueError(f"claims files not found: {', '.join(missing)}")
        return files

    @field_validator("deltas", mode="before")
    @classmethod
    def _expand_grid(cls, deltas: Any) -> Any:
        return _delta_grid(deltas) if isinstance(deltas, dict) else deltas

    @field_validator("deltas")
    @classmethod
    def _valid_deltas(cls, deltas: tuple[float, ...]) -> tuple[float, ...]:
        if not deltas:
            raise ValueError("the delta grid is empty")
        if any(not 0.0 <= d <= 1.0 for d in deltas):
            raise ValueError("every delta must lie in [0, 1]")
        if list(deltas) != sorted(set(deltas)):
            raise ValueError("deltas must be increasing without repeats")
        return deltas

    @field_validator("pairs_per_draw")
    @classmethod
    def _even_pairs(cls, n: int, info: ValidationInfo) -> int:
        if n % 2:
            raise ValueError(
                f"pairs_per_draw must be even (got {n}) so that delta = 0 splits "
                "the counterfactual members equally between A and B"
            )
        seeds = info.data.get("seeds")
        if seeds is not None and n > len(seeds):
            raise ValueError(f"pairs_per_draw ({n}) exceeds the number of seeds ({len(seeds)})")
        return n

    @field_validator("interventions", mode="before")
    @classmethod
    def _expand_strengths(cls, items: Any) -> Any:
        return expand_strengths(items) if isinstance(items, (list, tuple)) else items

    @field_validator("interventions")
    @classmethod
    def _unique_interventions(
        cls, items: tuple[InterventionConfig, ...], info: ValidationInfo
    ) -> tuple[InterventionConfig, ...]:
        if not items:
            raise ValueError("list at least one intervention")
        if any(i.key == "base" for i in items):
            raise ValueError("'base' is reserved for the unedited set; choose another id")
        no_duplicates([i.key for i in items], "intervention id (set 'id' to tell them apart)")
        generator = info.data.get("generator")
        if generator is not None and generator.spec.partition(":")[0] in LATENT_FREE_SCHEMES:
            for i, item in enumerate(items):
                if item.uses_latents:
                    raise ValueError(
                        f"[{i}] {item.key!r} edits the generator's latents, but generator "
                        f"{generator.spec!r} is a sample folder without latents; use pixel "
                        "interventions (blur:<region>, fill:<region>, hat) or a generator"
                    )
        return items

    @model_validator(mode="after")
    def _attention_spaces(self) -> SweepConfig:
        from counterfactual.attention.spaces import has_map, no_map_reason

        names = [s.name for s in self.spaces]
        for space in self.attention.spaces:
            if space not in names:
                raise ValueError(
                    f"attention.spaces: {space!r} is not one of the sweep's spaces "
                    f"({', '.join(names)})"
                )
            if not has_map(space):
                raise ValueError(
                    f"attention.spaces: {space!r} has no attention map ({no_map_reason(space)})"
                )
        return self

    # ---- derived views -------------------------------------------------------------
    @property
    def seed_list(self) -> list[int]:
        return self.seeds.resolve()

    def intervention(self, key: str) -> InterventionConfig:
        for item in self.interventions:
            if item.key == key:
                return item
        raise KeyError(key)

    def region_interventions(self) -> list[InterventionConfig]:
        """Region distortions normalised by the reference (the reference itself excluded)."""
        if self.region.reference not in {i.key for i in self.interventions}:
            return []
        return [
            i
            for i in self.interventions
            if i.name.startswith(self.region.prefix) and i.key != self.region.reference
        ]


def strength_label(value: float | int) -> str:
    """How a strength appears in an intervention id: 10 -> "10", 2.5 -> "2.5"."""
    return format(value, "g")


def split_strength(key: str) -> tuple[str, float | None]:
    """The inverse of the id `expand_strengths` gives: "rotate@10" -> ("rotate", 10.0); an id
    without a numeric "@<strength>" tail -> (key, None)."""
    label, sep, tail = key.rpartition("@")
    if not sep or not label:
        return key, None
    try:
        return label, float(tail)
    except ValueError:
        return key, None


def expand_strengths(items: Iterable[Any]) -> list[Any]:
    """Interventions with `strengths = [s1, s2, ...]` -> one intervention per strength, id
    "<id or name>@<s>", its strength parameter (the intervention's `strength_param`) set to s;
    every other entry is passed on unchanged. The base set and the twins of each strength are
    then generated once and their features cached like any intervention's."""
    out: list[Any] = []
    for i, item in enumerate(items):
        if not (isinstance(item, dict) and "strengths" in item):
            out.append(item)
            continue
        entry = dict(item)
        strengths, name = entry.pop("strengths"), entry.get("name")
        where = f"[{i}] {name!r}"
        if not isinstance(strengths, (list, tuple)) or not strengths:
            raise ValueError(
                f"{where}: strengths must be a non-empty list of numbers, got {strengths!r}"
            )
        if any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in strengths):
            raise ValueError(f"{where}: strengths must be numbers, got {list(strengths)!r}")
        no_duplicates([strength_label(s) for s in strengths], f"strength of {name!r}")
        params = dict(entry.get("params") or {})
        try:
            from counterfactual.interventions import build_intervention

            param = getattr(build_intervention(str(name), **params), "strength_param", None)
        except ImportError:  # interventions not installed: nothing to expand with
            raise ValueError(f"{where}: strengths need the interventions package") from None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        if param is None:
            raise ValueError(
                f"{where} has no strength parameter; 'strengths' applies to the "
                "distortions (rotate, erase, swirl, puzzle, noise, jpeg, resample, shift)"
            )
        if param in params:
            raise ValueError(
                f"{where}: give the strength either as params.{param} or as strengths, not both"
            )
        label = entry.pop("id", None) or name
        for s in strengths:
            try:
                build_intervention(str(name), **params, **{param: s})
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where} strength {s!r}: {exc}") from None
            out.append(
                {**entry, "id": f"{label}@{strength_label(s)}", "params": {**params, param: s}}
            )
    return out


def no_duplicates(names: Iterable[str], what: str) -> None:
    """ValueError naming the first repeated name (`what` says what the names are)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what}: {name!r}")
        seen.add(name)


def _delta_grid(spec: dict[str, Any]) -> Any:
    """{start, stop, step} -> the inclusive grid; anything else is left to validation."""
    allowed = {"start", "stop", "step"}
    if set(spec) - allowed or "step" not in spec:
        return spec  # fails validation as "not a list", with the key named
    start, stop, step = (
        float(spec.get("start", 0.0)),
        float(spec.get("stop", 1.0)),
        float(spec["step"]),
    )
    if step <= 0:
        return spec
    n = int(round((stop - start) / step))
    return [round(start + i * step, 10) for i in range(n + 1)]


def known_spaces() -> list[str]:
    """Feature-space names the extractor registry knows."""
    import extractors

    return extractors.space_names()


# ---- validation and error reporting ---------------------------------------------------
def _unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...] / tuple[...] / list[...], or the annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return _unwrap(args[0]) if args else annotation
    return annotation


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose table sits at `loc` below `root`, or None."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _key_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def describe_validation_error(err: Mapping[str, Any], root: type[BaseModel]) -> str:
    """One pydantic error as "key 'a.b[0].c': problem"; unknown keys list the keys allowed in
    their table, looked up from the root model `root` (SweepConfig, RankConfig, ...)."""
    loc = tuple(err["loc"])
    key = _key_name(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "?"
        return f"key '{key}': unknown key; allowed keys here: {allowed}"
    if kind == "missing":
        return f"key '{key}': required but missing"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    value = err.get("input")
    shown = "" if isinstance(value, dict) or kind.endswith("_error") else f" (got {value!r})"
    return f"key '{key}': {message}{shown}"


_RunConfigT = TypeVar("_RunConfigT", bound=RunConfigBase)


def validate_model(
    model: type[_RunConfigT], data: dict[str, Any], source: str = "<config>"
) -> _RunConfigT:
    """Validate a mapping as `model`; raise one ConfigError listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [describe_validation_error(e, model) for e in exc.errors(include_url=False)]
        if len(problems) == 1:
            raise ConfigError(f"invalid {model.kind} config {source}: {problems[0]}") from None
        lines = "\n  ".join(problems)
        raise ConfigError(f"invalid {model.kind} config {source}:\n  {lines}") from None


def read_toml(path: str | Path, kind: str) -> dict[str, Any]:
    """A TOML file's mapping; ConfigError naming the file when it is missing or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{kind} config not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{kind} config {path} is a directory, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{kind} config {path} is not UTF-8 text (byte {exc.start}: "
            f"{exc.object[exc.start : exc.start + 1]!r}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} config {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None


def validate_config(data: dict[str, Any], source: str = "<config>") -> SweepConfig:
    """Validate a sweep-config mapping; raise one ConfigError listing every problem."""
    return validate_model(SweepConfig, data, source)


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a TOML sweep config."""
    return validate_model(SweepConfig, read_toml(path, "sweep"), source=str(path))


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config identities."""
    keys = sorted(set(old) | set(new))
    out: list[str] = []
    for key in keys:
        name = f"{prefix}.{key}" if prefix else key
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, name)
        elif json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            out.append(f"{name}: {json.dumps(a)} -> {json.dumps(b)}")
    return out
