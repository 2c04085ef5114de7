"""The layers of ltsp_client: no import cycle between its parts, and no import upwards.

A part is a subpackage (config/, system/, init/ ...) or a top-level module
(paths.py, cli.py ...). Every import counts: module level, inside a function
(our lazy imports for boot time) and under TYPE_CHECKING, so a cycle cannot
hide behind a late import. The layer order is the one in docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ltsp_client"

# Lowest first: a part may import from its own layer or below, never above.
LAYERS: dict[str, int] = {
    # 0 core: no dependencies inside ltsp_client but each other
    "ltsp_client": 0,  # the package itself (__version__)
    "errors": 0,
    "paths": 0,
    "run": 0,
    "log": 0,
    "kcmdline": 0,
    # 1: ltsp.conf engine and parameter table; OS adapters
    "config": 1,
    "system": 1,
    "users": 1,  # accounts: passwd/group/shadow records and their merge rules
    "appcontext": 1,  # Context: the global settings (directory defaults from the table)
    # 2: the plugin framework
    "pluginkit": 2,
    # 3: built-in plugins; publisher applets
    "plugins": 3,
    "server": 3,
    "login": 3,  # `ltsp login`: authentication, SSHFS homes, logind
    # 4: boot stages
    "init": 4,
    # 5: dispatch
    "cli": 5,
    "applet": 5,  # the dispatcher's glue: ltsp.conf, logging and hooks around every applet
    "applets": 5,  # `ltsp config`: above config and the plugins
    "__main__": 5,
}

# Edges that are known to be wrong and have an owner fixing them. An entry that
# is no longer needed fails the test too: delete it when the edge is gone.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # file:line of the import

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where})"


def part_of(package: Path, module: Path) -> str:
    rel = module.relative_to(package)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return package.name if rel.stem == "__init__" else rel.stem


def imported_names(tree: ast.AST, module_name: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Dotted names each import statement reaches (`from a import b` gives a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module_name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def import_edges(package: Path) -> list[Edge]:
    """Every import from one part of `package` into another one."""
    parts = {part_of(package, p) for p in package.rglob("*.py")}
    edges: list[Edge] = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        is_package = path.stem == "__init__"
        dotted = ".".join(
            rel.with_suffix("").parts[:-1] if is_package else rel.with_suffix("").parts
        )
        source = part_of(package, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line in imported_names(tree, dotted, is_package):
            words = name.split(".")
            if words[0] != package.name:
                continue
            target = words[1] if len(words) > 1 and words[1] in parts else package.name
            edge = Edge(source, target, f"{rel}:{line}")
            if target != source and edge not in edges:
                edges.append(edge)
    return edges


def find_cycle(edges: list[Edge]) -> list[Edge]:
    """One import cycle as its edges ([] if there is none)."""
    graph: dict[str, list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(node: str) -> list[Edge]:
        state[node] = 1
        for edge in graph.get(node, []):
            if state.get(edge.target) == 1:
                start = next((i for i, e in enumerate(path) if e.source == edge.target), len(path))
                return [*path[start:], edge]
            if edge.target not in state:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def checked_edges() -> list[Edge]:
    return [e for e in import_edges(PACKAGE) if (e.source, e.target) not in KNOWN_EXCEPTIONS]


def test_every_part_has_a_layer() -> None:
    parts = {part_of(PACKAGE, p) for p in PACKAGE.rglob("*.py")}
    missing = sorted(parts - LAYERS.keys())
    assert not missing, f"put {missing} into a layer in LAYERS (and docs/architecture.md)"


def test_no_import_cycle_between_parts() -> None:
    cycle = find_cycle(checked_edges())
    assert not cycle, "import cycle:\n  " + "\n  ".join(map(str, cycle))


def test_imports_go_down_the_layers() -> None:
    upward = [
        f"{e} (layer {LAYERS[e.source]} imports layer {LAYERS[e.target]})"
        for e in checked_edges()
        if e.source in LAYERS and e.target in LAYERS and LAYERS[e.target] > LAYERS[e.source]
    ]
    assert not upward, "imports from a higher layer:\n  " + "\n  ".join(upward)


def test_known_exceptions_are_still_needed() -> None:
    present = {(e.source, e.target) for e in import_edges(PACKAGE)}
    stale = [f"{a} -> {b}" for a, b in KNOWN_EXCEPTIONS if (a, b) not in present]
    assert not stale, f"remove {stale} from KNOWN_EXCEPTIONS in tests/test_layers.py: fixed"


def write(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    return base


def test_a_function_local_import_cycle_is_found(tmp_path: Path) -> None:
    """The checker itself: a late import inside a function closes a cycle."""
    package = write(
        tmp_path / "ltsp_client",
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/x.py": "from ltsp_client.b import y\n",
            "b/__init__.py": "",
            "b/y.py": "def f() -> None:\n    from ..a import x\n",
            "c.py": "from ltsp_client import a, errors\n",
            "errors.py": "import ltsp_client\n",
        },
    )
    edges = import_edges(package)
    assert {(e.source, e.target) for e in edges} == {
        ("a", "b"),
        ("b", "a"),
        ("c", "a"),
        ("c", "errors"),
        ("errors", "ltsp_client"),
    }
    cycle = find_cycle(edges)
    assert [(e.source, e.target) for e in cycle] in (
        [("a", "b"), ("b", "a")],
        [("b", "a"), ("a", "b")],
    )
    assert cycle[-1].where in ("ltsp_client/b/y.py:2", "ltsp_client/a/x.py:1")
