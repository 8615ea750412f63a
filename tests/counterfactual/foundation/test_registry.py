"""counterfactual.foundation.registry: lazy targets, validated names, argument modes, one clear error."""

from __future__ import annotations

import pytest

from counterfactual.foundation.registry import Registry, resolve


def test_lazy_dotted_target_and_argument_modes():
    reg = Registry("widget")
    reg.register("plain", "os.path:join")
    reg.register("pre", "collections:OrderedDict.fromkeys", argument="required", arg_help="keys")
    reg.register("opt", len, argument="optional")
    entry, arg = reg.lookup("plain")
    assert arg is None and entry.resolve()("a", "b") == "a/b"
    entry, arg = reg.lookup("pre:xy")
    assert arg == "xy" and list(entry.resolve()(arg)) == ["x", "y"]
    assert reg.lookup("opt")[1] is None and reg.lookup("opt:3")[1] == "3"
    assert reg.allowed() == "opt[:<arg>], plain, pre:<keys>"
    assert resolve("os.path:sep") == "/"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nope", "unknown widget 'nope'; allowed: plain"),
        ("plain:x", "takes no ':' argument"),
        ("pre", "needs an argument: 'pre:<arg>'"),
        ("", "non-empty string"),
    ],
)
def test_bad_specs_give_one_clear_error(spec, message):
    reg = Registry("widget")
    reg.register("plain", "os.path:join")
    reg.register("pre", "os.path:join", argument="required")
    with pytest.raises(ValueError, match=message):
        reg.lookup(spec)


def test_registration_is_validated():
    reg = Registry("widget")
    with pytest.raises(ValueError, match="invalid widget name"):
        reg.register("a:b", "os:sep")
    with pytest.raises(ValueError, match="expected 'module:attr'"):
        reg.register("a", "os.sep")
    with pytest.raises(TypeError, match="callable"):
        reg.register("a", 3)
    with pytest.raises(ValueError, match="expected 'module:attr'"):
        reg.register("a", "os:sep", probe_target="nocolon")


def test_foundation_is_the_bottom_layer():
    """generators/ and extractors/ reach counterfactual only through counterfactual.foundation,
    which imports nothing else of the project (no import cycle)."""
    import subprocess
    import sys

    code = (
        "import sys, generators, extractors, extractors.runtime.cache, extractors.scorers\n"
        "import counterfactual.foundation.files, counterfactual.foundation.hashing\n"
        "print(sorted(m for m in sys.modules if m.startswith('counterfactual')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = eval(out.stdout)
    assert modules and all(
        m == "counterfactual" or m.startswith("counterfactual.foundation") for m in modules
    ), modules
