"""What each edit is, in words: a section title and one sentence per intervention kind.

The text comes from the intervention's description in the manifest (the prepared one when
the sweep learned a direction or calibrated a strength). Registry: `DESCRIBERS` maps a
description's "kind" to a function returning (title, sentence); unknown kinds fall back to
the intervention's key and its parameters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Describer = Callable[[str, Mapping[str, Any]], tuple[str, str]]


def _param(value: Any) -> str:
    """A parameter as the user wrote it (0.5, 3), not in the 3-significant-digit notation."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _two(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "?"


def _title_case(text: str) -> str:
    """'hair_length' -> 'Hair length': a heading word, not an identifier."""
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


def _latent(key: str, d: Mapping[str, Any]) -> tuple[str, str]:
    target = d.get("target_scorer") or key
    direction = d.get("direction") or {}
    space = direction.get("space") or d.get("space") or "latent"
    provenance = direction.get("provenance") or {}
    from_bank = str(provenance.get("source", "")).startswith("direction bank")
    if d.get("direction_file"):
        source = "a direction read from " + str(d["direction_file"])
    elif from_bank:
        source = (
            "the generator's shipped direction bank (an InterFaceGAN-style linear boundary "
            f"learned from {provenance.get('n_samples', '?')} samples; held-out balanced "
            f"accuracy {_two(provenance.get('held_out_balanced_accuracy'))}, "
            f"AUC {_two(provenance.get('held_out_auc'))})"
        )
    else:
        source = "a learned linear boundary (InterFaceGAN-style SVM on scorer labels)"
    alpha = d.get("alpha")
    if d.get("level_sd") is not None:
        strength = (
            f"each face moved up to {_param(d['level_sd'])} SD above the learning samples' mean "
            "projection and no further (faces already there are unchanged)"
        )
    elif alpha is not None:
        strength = f"strength α = {_param(alpha)} ({d.get('alpha_source', 'given')})"
    else:
        strength = "calibrated strength"
    layers = f", layers {d['layers']}" if d.get("layers") else ""
    return (
        f"{_title_case(str(target))} edit ({'bank' if from_bank else 'learned'} latent direction)",
        f"Moves each face's {space} latent along {source} for the {target} scorer, "
        f"{strength}{layers}; the twin is generated from the moved latent.",
    )


def _truncation(key: str, d: Mapping[str, Any]) -> tuple[str, str]:
    psi = d.get("psi")
    cutoff = f", layers below {d['cutoff']}" if d.get("cutoff") is not None else ""
    return (
        f"Truncation ψ = {_param(psi)}",
        f"Pulls each latent towards the average (ψ = {_param(psi)}{cutoff}: {d.get('rule', '')}), "
        "which makes faces more typical; the twin is generated from the truncated latent.",
    )


def _occluder(key: str, d: Mapping[str, Any]) -> tuple[str, str]:
    what = str(d.get("config_name") or key)
    return (
        f"{_title_case(what)} (synthetic occluder)",
        f"Draws a {what} onto the base image in pixel space (shape {d.get('shape', '?')}, "
        f"colour {d.get('color', '?')}, anchored by {d.get('anchor', 'landmarks')}); "
        "the generator is not asked for it.",
    )


def _region(verb: str, noun: str) -> Describer:
    def describe(key: str, d: Mapping[str, Any]) -> tuple[str, str]:
        region = str(d.get("region") or key.split(":", 1)[-1])
        if region == "all":
            return (
                f"Whole image {verb} (reference distortion)",
                f"Applies the {noun} to every pixel. It is the reference "
                "that normalises the region edits, and is expected to move every scorer.",
            )
        mask = d.get("mask", "a region mask")
        return (
            f"{_title_case(region)} {verb} (region distortion)",
            f"{_title_case(noun)} inside the {region} mask ({mask}).",
        )

    return describe


DESCRIBERS: dict[str, Describer] = {
    "latent_direction": _latent,
    "truncation": _truncation,
    "synthetic_occluder": _occluder,
    "region_blur": _region("blurred", "Gaussian blur"),
    "region_fill": _region("filled", "flat fill"),
}


def describe_edit(
    key: str, description: Mapping[str, Any] | None, params: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """(section title, one sentence) for intervention `key`."""
    d = description or {}
    fn = DESCRIBERS.get(str(d.get("kind", "")))
    if fn is not None:
        return fn(key, d)
    extra = f" with {json.dumps(dict(params))}" if params else ""
    return (f"{_title_case(key)} edit", f"Intervention {d.get('name', key)}{extra}.")


def _clean(value: Any) -> Any:
    """Round-off of an exact zero (orthogonalisation leaves ~1e-17) shown as 0."""
    return 0.0 if isinstance(value, float) and abs(value) < 1e-9 else value


def conditioning_view(prepared: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A conditioned latent edit's linear leakage before and after conditioning, for the report.

    From the prepared description's "conditioning" summary: per conditioning attribute the
    shift of its boundary's linear score at the edit's strength, in SD of that score over the
    learning samples, had the step followed the raw direction ("raw") and along the conditioned
    one ("conditioned", 0 by construction); and the target's own linear shift both ways. None
    for an edit that is not conditioned."""
    summary = (prepared or {}).get("conditioning")
    if not summary:
        return None
    rows = [
        {
            "scorer": name,
            "raw": _clean(rec.get("leakage_sd_raw")),
            "conditioned": _clean(rec.get("leakage_sd_conditioned")),
            "cosine_raw": _clean(rec.get("cosine_raw")),
        }
        for name, rec in (summary.get("others") or {}).items()
    ]
    return {
        "cosine_with_raw": summary.get("cosine_with_raw"),
        "target_raw": summary.get("target_shift_sd_raw"),
        "target_conditioned": summary.get("target_shift_sd_conditioned"),
        "rows": rows,
    }
