"""What must stay light: the CLI's module and parser, config validation (the demo config and a
rank config), a command refused for a bad config, and `import counterfactual` load neither
torch nor OpenCV, and build no model.
Each runs in a fresh interpreter, since this process has long imported torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.paths import ROOT

HEAVY = ("torch", "cv2", "onnxruntime", "matplotlib")


def _loaded_after(code: str) -> dict[str, bool]:
    """Which HEAVY modules are in sys.modules after running `code` in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import counterfactual.cli",
        "from counterfactual.cli import build_parser; build_parser().format_help()",
        "import counterfactual; counterfactual.__version__; counterfactual.fd; counterfactual.api",
        "import counterfactual.metrics",
        "from counterfactual.config import load_config; load_config('experiments/demo.toml')",
        "from counterfactual.rank.config import load_rank_config; "
        "load_rank_config('experiments/rank_demo.toml')",
        "from counterfactual.cli import main; "
        "assert main(['sweep', '/nonexistent/sweep.toml', '--out', '/nonexistent/run']) == 2",
        "from counterfactual.cli import main; "
        "assert main(['rank', '/nonexistent/rank.toml', '--out', '/nonexistent/run']) == 2",
    ],
)
def test_stays_light(code):
    loaded = _loaded_after(code)
    assert not any(loaded.values()), {m: v for m, v in loaded.items() if v}


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: verifying an edit's twins does need torch."""
    assert _loaded_after("import counterfactual.interventions.verify")["torch"]
