"""The layers are enforced: every import inside ``meta_orchestrator`` points down, and none cycles.

Each module's imports are read with ``ast`` (function-level imports included) and each module is
mapped to its component (``core``, ``store``, ``hub`` ...). An import of a component that ``ALLOWED``
does not list for the importer fails, and so do any cycle between modules (file level, package
``__init__`` modules included) and a module that belongs to no component; each problem names the
file, the line and the edge. A self-test runs the checker on a small fake package with each fault.

Not counted: ``if TYPE_CHECKING:`` blocks (they never run), and the string-based lazy imports of
``meta_orchestrator/__init__.py`` (its ``_LAZY`` table is read instead, so ``from meta_orchestrator
import resume_run`` counts as an import of ``hub``). Entry points -- ``__main__.py`` modules and code
under ``if __name__ == "__main__":`` -- count as ``cli``: they may import anything, and a main block
is not part of the import graph (it runs only as a script). The package root itself imports nothing
at load time, so every component may import it (``__version__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "meta_orchestrator"
PACKAGE_ROOT = "<package>"  # the component of the package's own __init__.py
ENTRY = "cli"  # the component of entry-point code

_BOTTOM = {"core", "errors"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"errors"},
    "orchestrators": _BOTTOM,
    "backends": _BOTTOM,
    "store": _BOTTOM,
    "analysis": {"store"} | _BOTTOM,
    "guardrail": {"analysis", "store"} | _BOTTOM,
    "driver": {"orchestrators", "backends"} | _BOTTOM,
    "leaderboard": {"core"},
    "listener": {"leaderboard", "core"},
    "progress": {"listener", "leaderboard", "analysis", "core"},  # analysis.formatting
    "hub": {"driver", "listener", "leaderboard", "analysis", "store", "orchestrators", "backends"}
    | _BOTTOM,
    "dashboard": {"analysis", "store"} | _BOTTOM,
    "testing": {"hub", "driver", "listener", "backends", "orchestrators", "store"} | _BOTTOM,
    "cli": set(),  # everything: see below
    PACKAGE_ROOT: set(),
}
ALLOWED["cli"] = set(ALLOWED) - {"cli"}


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``path:line``; ``entry`` if the import is entry-point code."""

    source: str
    target: str
    path: Path
    line: int
    entry: bool = False

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}: {self.source} -> {self.target}"


# ------------------------------------------------------------------------------ reading imports
def modules_of(package_dir: Path) -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its ``__init__``)."""
    name = package_dir.name
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([name, *parts])] = path
    return found


def component(module: str) -> str:
    """``pkg.core.config`` -> ``core``; ``pkg.hub`` -> ``hub``; ``pkg.guardrail.__main__`` -> ``cli``."""
    parts = module.split(".")
    if parts[-1] == "__main__":
        return ENTRY
    return parts[1] if len(parts) > 1 else PACKAGE_ROOT


def lazy_table(init: Path) -> dict[str, str]:
    """The package root's ``_LAZY = {"name": "module", ...}`` table (empty if it has none)."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets
        ):
            return dict(ast.literal_eval(node.value))
    return {}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _imports(node: ast.AST, entry: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``node``, with whether it is entry-point code."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _imports(child, entry)
        return
    if isinstance(node, ast.If) and _is_main_guard(node.test):
        for child in node.body:
            yield from _imports(child, True)
        for child in node.orelse:
            yield from _imports(child, entry)
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, entry
    for child in ast.iter_child_nodes(node):
        yield from _imports(child, entry)


def _targets(
    node: ast.Import | ast.ImportFrom,
    module: str,
    is_package: bool,
    known: dict[str, Path],
    lazy: dict[str, str],
) -> Iterator[str]:
    """The package modules one import statement loads."""
    root = module.split(".")[0]
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == root:
                yield alias.name
        return
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = here[: len(here) - node.level + 1]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != root:
        return
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            yield submodule
        elif base == root and alias.name in lazy:
            yield lazy[alias.name]
        else:
            yield base


def import_edges(package_dir: Path) -> list[Edge]:
    """Every import of one package module by another, with its file and line."""
    known = modules_of(package_dir)
    lazy = lazy_table(package_dir / "__init__.py")
    edges = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, entry in _imports(tree, module.endswith(".__main__")):
            for target in _targets(node, module, is_package, known, lazy):
                if target != module:
                    edges.append(Edge(module, target, path, node.lineno, entry))
    return edges


# ------------------------------------------------------------------------------------- checks
def layer_violations(edges: list[Edge], root: Path) -> list[str]:
    """Imports of a component the importer may not use (unmapped modules are reported apart)."""
    problems = []
    for edge in edges:
        source = ENTRY if edge.entry else component(edge.source)
        target = component(edge.target)
        if source not in ALLOWED or target not in ALLOWED:
            continue
        if target != source and target != PACKAGE_ROOT and target not in ALLOWED[source]:
            problems.append(f"{edge.where(root)}: '{source}' may not import '{target}'")
    return problems


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every strongly connected component, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                found.append(sorted(members))
    return found


def cycles(edges: list[Edge], root: Path) -> list[str]:
    """One problem per import cycle, naming every edge inside it (main blocks are not imports)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if not edge.entry:
            graph.setdefault(edge.source, set()).add(edge.target)
            graph.setdefault(edge.target, set())
    problems = []
    for members in strongly_connected(graph):
        inside = set(members)
        if len(members) == 1 and members[0] not in graph[members[0]]:
            continue
        lines = [
            e.where(root)
            for e in edges
            if not e.entry and e.source in inside and e.target in inside
        ]
        problems.append(f"import cycle {' <-> '.join(members)}:\n    " + "\n    ".join(lines))
    return problems


def unknown_components(package_dir: Path) -> list[str]:
    """Modules outside every component: a new folder or module must be given its place."""
    return [
        f"{path.relative_to(package_dir.parent)}: '{component(module)}' is not a known component; "
        "add it to ALLOWED in tests/test_layers.py"
        for module, path in modules_of(package_dir).items()
        if component(module) not in ALLOWED
    ]


def check(package_dir: Path) -> list[str]:
    """Every problem: modules outside the map, imports up or across a layer, import cycles."""
    edges = import_edges(package_dir)
    root = package_dir.parent
    return unknown_components(package_dir) + layer_violations(edges, root) + cycles(edges, root)


# -------------------------------------------------------------------------------------- tests
def test_every_import_points_down_a_layer_and_none_cycles() -> None:
    problems = check(ROOT / PACKAGE)
    assert not problems, "\n".join(problems)


def test_the_checker_sees_the_whole_package() -> None:
    """A parser that silently found nothing would pass the test above: it finds every component."""
    edges = import_edges(ROOT / PACKAGE)
    components = {component(m) for m in modules_of(ROOT / PACKAGE)}
    assert components == set(ALLOWED)
    assert {component(e.source) for e in edges} == set(ALLOWED) - {"errors", PACKAGE_ROOT}
    lazy = [e for e in edges if e.source == f"{PACKAGE}.hub" and e.target.endswith("report")]
    assert lazy, "the function-level import of analysis.report in hub was not seen"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / name.split("/")[0]


@pytest.fixture
def fake_package(tmp_path: Path) -> Path:
    """A tiny package with an upward import, a sideways one, two cycles, a module outside every
    component, and the constructs that must not count."""
    return _write(
        tmp_path,
        {
            "fakepkg/__init__.py": '_LAZY = {"run": "fakepkg.hub"}\n',
            "fakepkg/errors.py": "",
            "fakepkg/core/__init__.py": "",
            "fakepkg/core/config.py": (
                "from typing import TYPE_CHECKING\n"
                "from fakepkg.errors import Error\n"
                "if TYPE_CHECKING:\n"
                "    from fakepkg.hub import run\n"
                "\n"
                "def late():\n"
                "    from fakepkg import run\n"
            ),
            "fakepkg/store/__init__.py": "from fakepkg.store.writer import Writer\n",
            "fakepkg/store/writer.py": "from . import reader\n",
            "fakepkg/store/reader.py": "from .writer import Writer\n",
            "fakepkg/hub.py": (
                "from fakepkg.core import config\n"
                "if __name__ == '__main__':\n"
                "    from fakepkg.cli import main\n"
            ),
            "fakepkg/cli.py": "import fakepkg.hub\n",
            "fakepkg/orchestrators/__init__.py": "",
            "fakepkg/orchestrators/base.py": "import fakepkg.store.reader as reader\n",
            "fakepkg/plugins.py": "",
        },
    )


def test_the_checker_reports_upward_imports_cycles_and_unmapped_modules(fake_package: Path) -> None:
    problems = check(fake_package)
    upward = (
        "fakepkg/core/config.py:7: fakepkg.core.config -> fakepkg.hub: 'core' may not import 'hub'"
    )
    assert upward in problems  # seen through the package's _LAZY table
    sideways = (
        "fakepkg/orchestrators/base.py:1: fakepkg.orchestrators.base -> fakepkg.store.reader: "
        "'orchestrators' may not import 'store'"
    )
    assert sideways in problems
    assert any(
        p.startswith("fakepkg/plugins.py: 'plugins' is not a known component") for p in problems
    )
    cycle = [p for p in problems if p.startswith("import cycle")]
    assert len(cycle) == 2, problems
    store_cycle = "import cycle fakepkg.store.reader <-> fakepkg.store.writer:"
    assert any(p.startswith(store_cycle) for p in cycle), cycle
    assert any(
        "fakepkg/store/reader.py:1: fakepkg.store.reader -> fakepkg.store.writer" in p
        for p in cycle
    )
    # The lazy import in core closes a cycle with the hub; the TYPE_CHECKING import and the hub's
    # main block (an entry point, allowed to import cli) count for nothing.
    assert any(p.startswith("import cycle fakepkg.core.config <-> fakepkg.hub:") for p in cycle)
    assert len(problems) == 5, problems
