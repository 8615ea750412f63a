"""CLI: --version, examples in the top-level help, the demo's config path, weight hints."""

from __future__ import annotations

import subprocess

import pytest

from counterfactual import cli
from counterfactual.version import git_commit, project_version, version_string


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == version_string() and out.startswith(f"counterfactual-fd {project_version()}")
    head = subprocess.run(
        ["git", "-C", str(cli.DEMO_CONFIG.parents[1]), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
    )
    if head.returncode == 0:  # in a checkout: the commit is reported
        assert git_commit().split("+")[0] == head.stdout.strip() and head.stdout.strip()[:12] in out


def test_help_has_examples_and_demo_help_gives_the_config_path(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "counterfactual demo --out runs/demo" in out
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert str(cli.DEMO_CONFIG) in capsys.readouterr().out  # argparse wraps at spaces only


def test_spaces_says_which_file_to_supply(monkeypatch, capsys):
    import extractors
    from extractors.runtime.weights import MissingWeightsError

    rows = [
        {
            "name": "has-it",
            "trained_weights_found": True,
            "random_weights": False,
            "description": "x",
        },
        {
            "name": "needs-it",
            "trained_weights_found": False,
            "random_weights": False,
            "description": "y",
        },
        {
            "name": "random",
            "trained_weights_found": False,
            "random_weights": True,
            "description": "z",
        },
    ]
    monkeypatch.setattr(extractors, "available", lambda: rows)

    def load(name, **kw):
        raise MissingWeightsError(
            "Missing weights: needs-it.pt (sha256 abc). It is normally "
            "obtained from: the vendor. Pass weights=PATH."
        )

    monkeypatch.setattr(extractors, "load_extractor", load)
    assert cli.main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert "needs-it: needs-it.pt (from the vendor)" in out
    assert "COUNTERFACTUAL_WEIGHTS" in out and "random:" not in out


def test_every_document_the_code_points_to_exists():
    """Messages and docstrings may only send the reader to files the project contains."""
    import re

    root = cli.DEMO_CONFIG.parents[1]
    named = {
        (path, doc)
        for package in ("counterfactual", "generators", "extractors")
        for path in (root / package).rglob("*.py")
        for doc in re.findall(r"\b([A-Z][A-Z_]*\.md)\b", path.read_text(encoding="utf-8"))
    }
    assert named, "the scan found no document names at all (README.md is named in cli.py)"
    missing = sorted((str(p.relative_to(root)), d) for p, d in named if not (root / d).is_file())
    assert not missing, missing
