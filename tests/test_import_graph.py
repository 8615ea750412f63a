"""The import graph of `counterfactual`, `generators` and `extractors` has no cycle.

The graph is read from the source with `ast` (nothing is imported): every `import` and
`from ... import` statement, at module level (class bodies included) and inside functions,
relative imports resolved against the importing module's package, and `from pkg import name`
resolved to the submodule `pkg.name` when that is a module. Imports under
`if TYPE_CHECKING:` are left out (they never run). An edge goes to the deepest module of ours
the statement names (its parent packages are not added).

Asserted: no cycle between the units (each subpackage of `counterfactual`, and `generators`
and `extractors` as one unit each), counting every import; in particular `sweep` and `rank`
never reach each other and `engine` reaches neither; no cycle between modules, at module level
and counting function-level imports too. A failure prints the cycle with the import behind
each step.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from helpers.paths import ROOT

PACKAGES = ("counterfactual", "generators", "extractors")


@dataclass(frozen=True)
class Edge:
    """One import: `source` imports `target` (line `line`; `nested`: inside a function)."""

    source: str
    target: str
    line: int
    nested: bool

    def __str__(self) -> str:
        where = "in a function" if self.nested else "module level"
        return f"{self.source} -> {self.target} (line {self.line}, {where})"


def module_index(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file of every module under the packages (`pkg/__init__.py` is
    `pkg`)."""
    out: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_imports(name: str, path: Path, modules: Mapping[str, Path]) -> list[Edge]:
    """Every import of module `name` (file `path`) that reaches one of `modules`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: list[Edge] = []

    def ours(dotted: str) -> str | None:  # the deepest module of ours a dotted name names
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def add(target: str | None, node: ast.stmt, nested: bool) -> None:
        if target is not None and target != name:
            edges.append(Edge(name, target, node.lineno, nested))

    def visit(node: ast.AST, nested: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, nested)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(ours(alias.name), node, nested)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub in modules else ours(source), node, nested)
        inner = nested or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return edges


def import_graph(root: Path, packages: Iterable[str]) -> list[Edge]:
    """Every import between the modules of `packages` under `root`."""
    modules = module_index(root, packages)
    return [edge for name, path in modules.items() for edge in module_imports(name, path, modules)]


def find_cycle(edges: Iterable[tuple[str, str, Edge]]) -> list[Edge] | None:
    """One cycle of the directed graph (node, node, the edge behind it), as its edges in
    order, or None when there is none."""
    adjacency: dict[str, dict[str, Edge]] = defaultdict(dict)
    for a, b, edge in edges:
        if a != b:
            adjacency[a].setdefault(b, edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    for start in sorted(adjacency):
        if start in state:
            continue
        stack = [(start, iter(sorted(adjacency[start])))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                loop = path[path.index(child) :] + [child]
                return [adjacency[a][b] for a, b in zip(loop, loop[1:])]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(adjacency[child]))))
    return None


def unit(module: str) -> str | None:
    """The unit of a module: `counterfactual.<subpackage>`, `generators` or `extractors`;
    None for the top-level modules of `counterfactual` (config, cli, errors, ...)."""
    parts = module.split(".")
    if parts[0] != "counterfactual":
        return parts[0]
    if len(parts) > 2 or (len(parts) == 2 and (ROOT / "counterfactual" / parts[1]).is_dir()):
        return ".".join(parts[:2])
    return None


def unit_edges(edges: Iterable[Edge]) -> list[tuple[str, str, Edge]]:
    out = []
    for e in edges:
        a, b = unit(e.source), unit(e.target)
        if a is not None and b is not None and a != b:
            out.append((a, b, e))
    return out


def describe(cycle: list[Edge]) -> str:
    return "import cycle:\n  " + "\n  ".join(map(str, cycle))


def reaches(edges: Iterable[tuple[str, str, Edge]], start: str) -> dict[str, list[Edge]]:
    """Every node reachable from `start`, with one path of edges to it."""
    adjacency: dict[str, list[tuple[str, Edge]]] = defaultdict(list)
    for a, b, e in edges:
        adjacency[a].append((b, e))
    paths: dict[str, list[Edge]] = {start: []}
    todo = [start]
    while todo:
        node = todo.pop()
        for child, e in adjacency[node]:
            if child not in paths:
                paths[child] = paths[node] + [e]
                todo.append(child)
    return paths


GRAPH = import_graph(ROOT, PACKAGES)


def test_the_graph_sees_every_package_and_both_import_levels():
    modules = module_index(ROOT, PACKAGES)
    assert {"counterfactual.engine.features", "generators", "extractors.face.locate"} <= set(
        modules
    )
    sources = {e.source for e in GRAPH}
    assert {"counterfactual.sweep.executor", "counterfactual.rank.engine"} <= sources
    assert any(e.nested for e in GRAPH) and any(not e.nested for e in GRAPH)


def test_no_cycle_between_subpackages():
    cycle = find_cycle(unit_edges(GRAPH))
    assert cycle is None, describe(cycle)


def test_sweep_and_rank_never_reach_each_other_and_engine_reaches_neither():
    units = unit_edges(GRAPH)
    for start, forbidden in (
        ("counterfactual.sweep", "counterfactual.rank"),
        ("counterfactual.rank", "counterfactual.sweep"),
        ("counterfactual.engine", "counterfactual.sweep"),
        ("counterfactual.engine", "counterfactual.rank"),
    ):
        path = reaches(units, start).get(forbidden)
        assert path is None, f"{start} reaches {forbidden}:\n  " + "\n  ".join(map(str, path))


def test_no_module_level_cycle():
    cycle = find_cycle((e.source, e.target, e) for e in GRAPH if not e.nested)
    assert cycle is None, describe(cycle)


def test_no_cycle_counting_function_level_imports():
    cycle = find_cycle((e.source, e.target, e) for e in GRAPH)
    assert cycle is None, describe(cycle)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_planted_cycle_is_found_and_printed(tmp_path):
    """A package whose modules import each other through a relative import, a `from pkg import
    submodule` and a function-level import: each hop is resolved and the cycle is named."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from pkg.sub import c\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "def f():\n    import pkg.a\n",
            "pkg/sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pkg import a\nfrom ..b import name\n",
        },
    )
    edges = import_graph(tmp_path, ["pkg"])
    assert {(e.source, e.target, e.nested) for e in edges} == {
        ("pkg.a", "pkg.b", False),
        ("pkg.b", "pkg.sub.c", False),
        ("pkg.sub.c", "pkg.a", True),
        ("pkg.sub.d", "pkg.b", False),  # the TYPE_CHECKING import is left out
    }
    cycle = find_cycle((e.source, e.target, e) for e in edges)
    assert cycle is not None
    assert [(e.source, e.target) for e in cycle] == [
        ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg.sub.c"),
        ("pkg.sub.c", "pkg.a"),
    ]
    message = describe(cycle)
    assert "pkg.sub.c -> pkg.a (line 2, in a function)" in message
    # module level only: the function-level import breaks it
    assert find_cycle((e.source, e.target, e) for e in edges if not e.nested) is None


def test_a_planted_cycle_between_subpackages_is_found(tmp_path):
    _write(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/one/__init__.py": "",
            "top/one/x.py": "def f():\n    from top.two import y\n",
            "top/two/__init__.py": "",
            "top/two/y.py": "from top.one import x\n",
        },
    )
    edges = import_graph(tmp_path, ["top"])
    units = [(e.source.rsplit(".", 1)[0], e.target.rsplit(".", 1)[0], e) for e in edges]
    cycle = find_cycle(units)
    assert cycle is not None and {e.source for e in cycle} == {"top.one.x", "top.two.y"}
    assert "top.two -> " not in describe(cycle)  # modules are named, not just units
    assert reaches(units, "top.one")["top.two"][0].target == "top.two.y"
