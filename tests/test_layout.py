"""The package's shape: no import cycles, music/ free of torch, every mode whole, cli.py only assembling.

Imports are read with `ast`, not executed: an edge is a module-level import
(the ones run when a module is imported, `if TYPE_CHECKING:` blocks left
out); imports inside functions are deferred on purpose and make no cycle
at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tunesmith.modes import all_modes

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tunesmith"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_imports(path: Path, modules: set[str] = frozenset()) -> set[str]:
    """What `path` imports when it is imported (module level, outside TYPE_CHECKING), as module names.

    `from P import x` names P.x where that is one of `modules`, else P.
    """
    module, is_package = module_name(path), path.name == "__init__.py"
    found: set[str] = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node)
                found.update(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names)

    visit(ast.parse(path.read_text()).body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the tunesmith modules its import runs (importing a.b.c runs a, a.b and a.b.c).

    A module's own packages are left out: they are already being imported when it is.
    """
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        targets = set()
        for imported in module_imports(path, set(files)):
            parts = imported.split(".")
            prefixes = {".".join(parts[:i]) for i in range(1, len(parts))} - own
            targets.update(m for m in prefixes | {imported} if m in files)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}   # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_no_import_cycles_in_the_package():
    graph = import_graph()
    assert len(graph) > 80  # the whole package was read
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_music_never_imports_torch():
    for path in (PACKAGE / "music").rglob("*.py"):
        assert not any(m == "torch" or m.startswith("torch.") for m in module_imports(path)), path


def test_cli_only_assembles_the_commands():
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["main"]  # every command lives in commands/
    commands = {p.stem for p in (PACKAGE / "commands").glob("*.py")} - {"__init__", "runtime"}
    from tunesmith.cli import app

    registered = {c.callback.__module__.rsplit(".", 1)[-1] for c in app.registered_commands}
    registered |= {g.typer_instance.info.name or g.name for g in app.registered_groups}
    assert commands == registered


@pytest.mark.parametrize("mode", all_modes(), ids=lambda m: m.name)
def test_every_mode_declares_what_the_shared_layers_need(mode):
    assert (PACKAGE / "modes" / mode.name / "__init__.py").is_file()   # a package of its own
    assert mode.codecs and all(c.unit for c in mode.codecs)
    assert mode.corpora() and mode.renders and mode.suffix
    assert mode.measures().mode == mode.name
    for spec in mode.option_specs():
        assert spec.info.help and spec.type in (str, int, float, bool, Path)
    assert mode.options() == mode.resolve_options({})                   # every option has a default
