"""The package layout keeps its promises: stages in folders, no import cycles, imports at the top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "abicheck"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Imports under `if TYPE_CHECKING:` are for the type checker, never executed."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skip


def import_graph() -> dict[str, set[str]]:
    """module -> the abicheck modules it imports, at module level or inside functions."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = package + (f".{base}" if base else "")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_graph_sees_function_level_imports():
    graph = import_graph()
    assert "abicheck.rules.symbols" in graph["abicheck.rules"]
    assert "abicheck.pipeline" in graph["abicheck.pytest_plugin"]  # imported inside Settings.report()


# Where an import inside a function is allowed: the command-line and pytest edges, which keep their start-up
# fast, and the package's lazy public names. Everywhere else imports sit at the top (ruff's PLC0415).
EDGES = ("abicheck.cli", "abicheck.pytest_plugin", "abicheck.__init__")


@pytest.mark.parametrize("name", sorted(_modules()))
def test_imports_sit_at_the_top_outside_the_edges(name):
    path = _modules()[name]
    if name.startswith(EDGES) or name == "abicheck":
        return
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    inner = [node for fn in ast.walk(ast.parse(text)) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))]
    # A module that is not abicheck's, costly to import and rarely needed (packaging, hashlib) may load where it
    # is used, said so with a noqa; abicheck's own modules never.
    ours = [n.lineno for n in inner if any(name.startswith("abicheck") for name in (
        [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]))]
    unmarked = [n.lineno for n in inner if "noqa: PLC0415" not in lines[n.lineno - 1]]
    assert ours == [] and unmarked == [], f"{name}: imports inside functions at lines {ours or unmarked}"


def test_stages_have_their_folders():
    for stage in ("inputs", "binary", "analysis", "policy", "rules", "report", "abi", "cli"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_public_names_and_entry_points_still_work(tmp_path):
    import abicheck

    for name in ("check", "Report", "Finding", "load_policy", "InputProblem", "InputError", "UsageError"):
        assert getattr(abicheck, name) is not None
    out = subprocess.run([sys.executable, "-m", "abicheck", "--version"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("abicheck ")
    from importlib.metadata import entry_points

    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "abicheck"]
    assert plugin.load().__name__ == "abicheck.pytest_plugin"
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "abicheck"]
    assert callable(script.load())
