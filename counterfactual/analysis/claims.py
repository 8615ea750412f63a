"""The reference study's claims, tested on a sweep run: one verdict per claim.

Claims are data (``claims.toml`` next to this module: the qualitative claims of Kabra &
Balakrishnan; users add files of the same form). A claim is one or more comparisons of
sensitivities (`sensitivity.DEFINITION`), each ``lhs - rhs`` in a stated direction, in the
space's own FD units ("raw") or divided by the same space's sensitivity to the reference
distortion ("reference", e.g. ``blur:all``: S / S_ref, the study's normalisation).

Measures (`Measures`): S and its standard error from the effects table (the reference table for
the reference distortion itself); S / S_ref with the delta-method standard error
sqrt(se_S² / S_ref² + S² se_ref² / S_ref⁴), defined only where S_ref's interval lies above 0.
A region edit run with ``dose = false`` has no effects row: its reference-normalised measure
is then the region table's FD(base, region-blurred) / FD(base, fully blurred) (full sets, the
finite-sample floor not removed), shown without a standard error: the spread of that ratio
over the sweep's draws re-uses the same faces (with as many pairs per draw as faces it is 0),
so it says nothing about sampling faces, and the comparison is "not decidable at this n".
Give the edit ``dose = true`` (its sensitivity then has a face-level interval) for a verdict.

Comparison interval: d ± z·sqrt(se_lhs² + se_rhs²), z for the simultaneous level over the
claim's comparisons (Bonferroni). The two sides are treated as independent; on the same faces
they are positively correlated, which makes the interval of their difference conservative.
Verdict of a comparison (``VERDICTS``):
- "reproduced": the interval excludes 0 in the claimed direction;
- "not reproduced": it excludes 0 in the other direction, or lies inside [-margin, margin]
  (the claimed difference is absent);
- "not decidable at this n": otherwise (or a measure is undefined);
- "not tested in this run": an intervention or space the comparison names is not in the run.
A claim is "not tested in this run" when any comparison is, "reproduced" when all are,
"not reproduced" when any is, and else "not decidable at this n".
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from counterfactual.errors import UserError

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
UNDECIDED = "not decidable at this n"
NOT_TESTED = "not tested in this run"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, UNDECIDED, NOT_TESTED)
NORMALISATIONS: tuple[str, ...] = ("reference", "raw")
DIRECTIONS: dict[str, str] = {"greater": ">", "less": "<"}
ALL_SPACES = "*"
BUILTIN_FILE = "claims.toml"
CLAIM_COLUMNS: tuple[str, ...] = (
    "claim",
    "statement",
    "source",
    "verdict",
    "comparison",
    "normalisation",
    "direction",
    "estimate",
    "ci_low",
    "ci_high",
    "level",
    "margin",
    "result",
    "lhs_value",
    "lhs_se",
    "lhs_source",
    "rhs_value",
    "rhs_se",
    "rhs_source",
    "note",
    "origin",
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Operand:
    """One side of a comparison: interventions x spaces ("*": every trained space), or a value."""

    interventions: tuple[str, ...] = ()
    spaces: tuple[str, ...] = ()
    value: float | None = None

    def items(self, space: str | None) -> list[tuple[str, str] | float]:
        if self.value is not None:
            return [self.value]
        spaces = [space if s == ALL_SPACES and space else s for s in self.spaces]
        return [(i, s) for i in self.interventions for s in spaces]

    @property
    def all_spaces(self) -> bool:
        return ALL_SPACES in self.spaces


@dataclass(frozen=True)
class Comparison:
    lhs: Operand
    rhs: Operand
    direction: str
    margin: float


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: str
    normalisation: str
    compare: tuple[Comparison, ...]
    origin: str


# ---- reading claims ---------------------------------------------------------------------------
def _names(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise UserError(f"{what} must be a name or a list of names, got {value!r}")
    return tuple(items)


def _operand(data: Any, where: str) -> Operand:
    if not isinstance(data, Mapping):
        raise UserError(f"{where} must be a table, got {data!r}")
    if "value" in data:
        extra = set(data) - {"value"}
        value = data["value"]
        if extra or isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: give value = NUMBER alone, got {dict(data)!r}")
        return Operand(value=float(value))
    unknown = set(data) - {"intervention", "space"}
    if unknown or not {"intervention", "space"} <= set(data):
        raise UserError(f"{where} needs intervention and space (or value), got keys {sorted(data)}")
    return Operand(
        _names(data["intervention"], f"{where}.intervention"),
        _names(data["space"], f"{where}.space"),
    )


def _margin(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UserError(f"{where}: margin must be a number >= 0, got {value!r}")
    return float(value)


def parse_claims(data: Mapping[str, Any], origin: str) -> list[Claim]:
    """Claims from a parsed TOML document (``[[claim]]`` tables, see ``claims.toml``)."""
    unknown = set(data) - {"claim"}
    if unknown:
        raise UserError(f"{origin}: unknown top-level keys {sorted(unknown)}; use [[claim]]")
    out = []
    for k, c in enumerate(data.get("claim", [])):
        where = f"{origin}: claim {k + 1}"
        keys = {"id", "statement", "source", "normalisation", "margin", "compare"}
        if not isinstance(c, Mapping) or set(c) - keys:
            raise UserError(
                f"{where}: unknown keys {sorted(set(c) - keys)}; allowed {sorted(keys)}"
            )
        cid = c.get("id")
        if not isinstance(cid, str) or not _ID.match(cid):
            raise UserError(f"{where}: id must be letters, digits, - and _, got {cid!r}")
        where = f"{origin}: claim {cid!r}"
        statement = c.get("statement")
        if not isinstance(statement, str) or not statement.strip():
            raise UserError(f"{where}: statement is required")
        norm_ = c.get("normalisation", "reference")
        if norm_ not in NORMALISATIONS:
            raise UserError(
                f"{where}: normalisation must be one of {NORMALISATIONS}, got {norm_!r}"
            )
        margin = _margin(c.get("margin", 0.0), where)
        comps = c.get("compare")
        if not isinstance(comps, list) or not comps:
            raise UserError(f"{where}: list at least one [[claim.compare]]")
        compare = []
        for j, cp in enumerate(comps):
            w = f"{where} compare {j + 1}"
            if not isinstance(cp, Mapping) or set(cp) - {"lhs", "rhs", "direction", "margin"}:
                raise UserError(f"{w}: allowed keys are lhs, rhs, direction, margin")
            direction = cp.get("direction")
            if direction not in DIRECTIONS:
                raise UserError(f"{w}: direction must be one of {list(DIRECTIONS)}")
            lhs, rhs = _operand(cp.get("lhs"), f"{w}.lhs"), _operand(cp.get("rhs"), f"{w}.rhs")
            if lhs.value is not None:
                raise UserError(f"{w}: lhs must name an intervention and a space")
            m = _margin(cp["margin"], w) if "margin" in cp else margin
            compare.append(Comparison(lhs, rhs, str(direction), m))
        out.append(
            Claim(cid, statement.strip(), str(c.get("source", "")), norm_, tuple(compare), origin)
        )
    return out


def load_claims(paths: Sequence[str | Path] = (), builtin: bool = True) -> list[Claim]:
    """The built-in claims (``claims.toml``) followed by those of ``paths``; ids are unique."""
    claims: list[Claim] = []
    if builtin:
        text = resources.files(__package__).joinpath(BUILTIN_FILE).read_text(encoding="utf-8")
        claims += parse_claims(tomllib.loads(text), BUILTIN_FILE)
    for p in paths:
        path = Path(p)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"claims file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"claims file {path} is not valid TOML: {exc}") from None
        claims += parse_claims(data, str(path))
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise UserError(f"claim id {c.id!r} is given twice ({c.origin})")
        seen.add(c.id)
    return claims


# ---- measures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    """A measured sensitivity (or reference-normalised profile) with its standard error;
    ``value`` NaN with a ``note`` where it is undefined."""

    value: float
    se: float
    source: str
    note: str = ""


def _se(row: pd.Series) -> float:
    se = row.get("sensitivity_se")
    if se is not None and np.isfinite(se):
        return float(se)
    level = float(row.get("ci_level", 0.95))
    half = (float(row["sensitivity_ci_high"]) - float(row["sensitivity_ci_low"])) / 2.0
    return half / float(norm.ppf(0.5 + level / 2.0))


def _fd_rows(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame(columns=["intervention", "space", "trained"])
    return df[df["distance"] == "fd"] if "distance" in df else df


class Measures:
    """Per (intervention, space) measures of a run from its effects, reference and region
    tables (see the module doc)."""

    def __init__(
        self,
        effects: pd.DataFrame | None,
        reference: pd.DataFrame | None = None,
        region: pd.DataFrame | None = None,
    ) -> None:
        self.rows = {
            (r["intervention"], r["space"]): r
            for df in (_fd_rows(effects), _fd_rows(reference))
            for _, r in df.iterrows()
        }
        ref = _fd_rows(reference)
        self.reference = {r["space"]: r for _, r in ref.iterrows()}
        self.region = (
            {(r["intervention"], r["space"]): r for _, r in region.iterrows()}
            if region is not None
            else {}
        )
        self.trained = {
            k[1]: bool(r.get("trained", True))
            for k, r in list(self.rows.items()) + list(self.region.items())
        }

    def spaces(self, intervention: str) -> list[str]:
        """Trained spaces in which ``intervention`` was measured (for "*")."""
        keys = list(self.rows) + list(self.region)
        return list(dict.fromkeys(s for i, s in keys if i == intervention and self.trained[s]))

    def has(self, intervention: str, space: str, normalisation: str) -> bool:
        if normalisation == "raw":
            return (intervention, space) in self.rows
        return (intervention, space) in self.rows or (intervention, space) in self.region

    def get(self, intervention: str, space: str, normalisation: str) -> Measure:
        row = self.rows.get((intervention, space))
        if normalisation == "raw":
            if row is None:
                raise KeyError((intervention, space))
            return Measure(float(row["sensitivity"]), _se(row), "S (effects table)")
        if row is None:
            reg = self.region[(intervention, space)]
            return Measure(
                float(reg["normalised"]),
                math.nan,
                "FD/FD(reference), full sets (region table)",
                f"{intervention} ran with dose = false: no face-level interval "
                "(set dose = true for a verdict)",
            )
        ref = self.reference.get(space)
        if ref is None:
            return Measure(math.nan, math.nan, "", f"no reference distortion in {space}")
        if not float(ref["sensitivity_ci_low"]) > 0:
            return Measure(
                math.nan, math.nan, "", f"the reference's sensitivity in {space} is not above 0"
            )
        s, se_s = float(row["sensitivity"]), _se(row)
        r, se_r = float(ref["sensitivity"]), _se(ref)
        se = math.sqrt(se_s**2 / r**2 + s**2 * se_r**2 / r**4)
        return Measure(s / r, se, f"S/S({ref['intervention']}) (effects tables)")


# ---- verdicts ---------------------------------------------------------------------------------
def _label(item: tuple[str, str] | float) -> str:
    return f"{item[0]} in {item[1]}" if isinstance(item, tuple) else f"{item:g}"


def comparison_verdict(lo: float, hi: float, direction: str, margin: float) -> str:
    """The verdict of one comparison from the interval [lo, hi] of lhs - rhs."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return UNDECIDED
    above, below = lo > 0, hi < 0
    if (above and direction == "greater") or (below and direction == "less"):
        return REPRODUCED
    if above or below or (margin > 0 and -margin <= lo and hi <= margin):
        return NOT_REPRODUCED
    return UNDECIDED


def claim_verdict(results: Sequence[str]) -> str:
    """A claim's verdict from its comparisons' (see the module doc)."""
    if not results or NOT_TESTED in results:
        return NOT_TESTED
    if all(r == REPRODUCED for r in results):
        return REPRODUCED
    return NOT_REPRODUCED if NOT_REPRODUCED in results else UNDECIDED


def _expand(
    claim: Claim, measures: Measures
) -> list[tuple[Comparison, tuple[str, str] | float, tuple[str, str] | float | None, str]]:
    """(comparison, lhs item, rhs item, missing note) for every concrete comparison."""
    out: list[Any] = []
    for cp in claim.compare:
        if cp.lhs.all_spaces or cp.rhs.all_spaces:
            named = [i for op in (cp.lhs, cp.rhs) if op.all_spaces for i in op.interventions]
            spaces: list[str | None] = list(
                dict.fromkeys(s for i in named for s in measures.spaces(i))
            )
            if not spaces:
                out.append((cp, (named[0], ALL_SPACES), None, f"{', '.join(named)} not in run"))
                continue
        else:
            spaces = [None]
        for sp in spaces:
            for lhs in cp.lhs.items(sp):
                for rhs in cp.rhs.items(sp):
                    missing = [
                        _label(it)
                        for it in (lhs, rhs)
                        if isinstance(it, tuple) and not measures.has(*it, claim.normalisation)
                    ]
                    note = f"not in this run: {', '.join(missing)}" if missing else ""
                    out.append((cp, lhs, rhs, note))
    return out


def _side(item: tuple[str, str] | float, measures: Measures, normalisation: str) -> Measure:
    if isinstance(item, tuple):
        return measures.get(item[0], item[1], normalisation)
    return Measure(float(item), 0.0, "constant")


def claim_table(
    claims: Sequence[Claim],
    effects: pd.DataFrame | None,
    reference: pd.DataFrame | None = None,
    region: pd.DataFrame | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per concrete comparison of every claim (columns ``CLAIM_COLUMNS``), with the
    claim's verdict repeated on each of its rows (module doc)."""
    measures = Measures(effects, reference, region)
    rows: list[dict[str, Any]] = []
    for claim in claims:
        expanded = _expand(claim, measures)
        tested = [e for e in expanded if not e[3]]
        z = float(norm.ppf(1.0 - (1.0 - level) / (2.0 * max(len(tested), 1))))
        start = len(rows)
        for cp, lhs, rhs, missing in expanded:
            row: dict[str, Any] = {
                "claim": claim.id,
                "statement": claim.statement,
                "source": claim.source,
                "comparison": f"{_label(lhs)} {DIRECTIONS[cp.direction]} "
                + (_label(rhs) if rhs is not None else "?"),
                "normalisation": claim.normalisation,
                "direction": cp.direction,
                "level": 1.0 - (1.0 - level) / max(len(tested), 1),
                "margin": cp.margin,
                "origin": claim.origin,
                "note": missing,
            }
            if missing or rhs is None:
                rows.append({**row, "result": NOT_TESTED})
                continue
            a, b = (
                _side(lhs, measures, claim.normalisation),
                _side(rhs, measures, claim.normalisation),
            )
            d = a.value - b.value
            half = z * math.sqrt(a.se**2 + b.se**2)
            lo, hi = d - half, d + half
            rows.append(
                {
                    **row,
                    "estimate": d,
                    "ci_low": lo,
                    "ci_high": hi,
                    "result": comparison_verdict(lo, hi, cp.direction, cp.margin),
                    "lhs_value": a.value,
                    "lhs_se": a.se,
                    "lhs_source": a.source,
                    "rhs_value": b.value,
                    "rhs_se": b.se,
                    "rhs_source": b.source,
                    "note": "; ".join(n for n in (a.note, b.note) if n),
                }
            )
        verdict = claim_verdict([r["result"] for r in rows[start:]])
        for r in rows[start:]:
            r["verdict"] = verdict
    df = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    for c in ("estimate", "ci_low", "ci_high", "level", "margin", "lhs_value", "lhs_se"):
        df[c] = df[c].astype(np.float64)
    for c in ("rhs_value", "rhs_se"):
        df[c] = df[c].astype(np.float64)
    return df


def claim_summary(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per claim (in table order): id, statement, source, verdict and its rows."""
    out = []
    for cid in dict.fromkeys(table["claim"]):
        part = table[table["claim"] == cid]
        first = part.iloc[0]
        out.append(
            {
                "claim": cid,
                "statement": first["statement"],
                "source": first["source"],
                "verdict": first["verdict"],
                "normalisation": first["normalisation"],
                "rows": part.replace({np.nan: None}).to_dict(orient="records"),
            }
        )
    return out


__all__ = [
    "CLAIM_COLUMNS",
    "Claim",
    "Comparison",
    "Measure",
    "Measures",
    "NOT_REPRODUCED",
    "NOT_TESTED",
    "Operand",
    "REPRODUCED",
    "UNDECIDED",
    "VERDICTS",
    "claim_summary",
    "claim_table",
    "claim_verdict",
    "comparison_verdict",
    "load_claims",
    "parse_claims",
]
