"""The shape of the code: imports go one way, and the CLI (lambdaform/cli.py) only parses and prints.

Every import counts here, module-level, function-level and ``TYPE_CHECKING`` alike: a cycle hidden behind a
late import is still a cycle for whoever reads the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lambdaform",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    found = {"main": ROOT / "main.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (``from pkg import mod`` counts as ``pkg.mod``)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _project_modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # importing a submodule runs its package's __init__: a package depends on what its __init__ imports,
    # but a submodule importing its own package's __init__ (to reach a sibling) is not a cycle with it.
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_project_modules():
    assert _cycles(_graph()) == []


def test_nothing_imports_the_cli_or_the_sequencer_from_below():
    graph = _graph()
    assert not [name for name, deps in graph.items() if "main" in deps]
    assert sorted(name for name, deps in graph.items() if "lambdaform.cli" in deps) == ["lambdaform.__main__", "main"]
    assert sorted(name for name, deps in graph.items() if "lambdaform.commands" in deps) == ["lambdaform.cli"]


def test_constructs_never_read_the_model_or_the_yaml():
    graph = _graph()
    allowed = {"lambdaform.names"}  # leaf: names only
    for name, deps in graph.items():
        if name.startswith("lambdaform.constructs"):
            outside = {d for d in deps if not d.startswith("lambdaform.constructs")}
            assert outside <= allowed, name


def test_the_cli_only_parses_and_prints():
    """The CLI calls one function of lambdaform.commands per command; it builds no resources, runs no
    terraform and reads no service file itself. main.py only runs it."""
    known = set(_project_modules())
    imported = _imports("lambdaform.cli", ROOT / "lambdaform" / "cli.py", known)
    assert imported <= {"lambdaform", "lambdaform.commands", "lambdaform.console", "lambdaform.errors",
                        "lambdaform.deploy"}, imported
    assert _imports("main", ROOT / "main.py", known) == {"lambdaform.cli"}
