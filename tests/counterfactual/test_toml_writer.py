"""Configs written as TOML read back equal with the standard library's parser."""

from __future__ import annotations

import tomllib

import pytest

from counterfactual.config import validate_config
from counterfactual.toml_writer import to_toml
from helpers.paths import ROOT


def _without_none(obj):
    if isinstance(obj, dict):
        return {k: _without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_none(v) for v in obj]
    return obj


def test_round_trip_of_a_nested_config():
    data = {
        "name": "demo",
        "description": 'quotes " and unicode Δ',
        "seed": 0,
        "psi": 0.5,
        "flag": True,
        "deltas": [0.0, 0.25, 1.0],
        "nothing": None,
        "seeds": {"start": 0, "count": 240, "values": None},
        "spaces": [{"name": "a", "allow_untrained": False}, {"name": "b", "weights": None}],
        "interventions": [
            {"name": "gender", "params": {"n_samples": 1000}},
            {"name": "blur:all", "params": {}},
        ],
        "region": {"reference": "blur:all", "nested": {"deep": [1, 2]}},
        "odd key": 1,
    }
    assert tomllib.loads(to_toml(data)) == _without_none(data)


def test_the_demo_config_round_trips_through_the_validator():

    demo = ROOT / "experiments" / "demo.toml"
    config = validate_config(tomllib.loads(demo.read_text()), source=str(demo))
    dumped = config.model_dump(mode="json")
    again = validate_config(tomllib.loads(to_toml(dumped)), source="round trip")
    assert again.model_dump(mode="json") == dumped


def test_unsupported_values_are_refused():
    with pytest.raises(TypeError):
        to_toml({"x": object()})
