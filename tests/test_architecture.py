"""The layout's promises: no import cycles, numpy-only modules stay numpy-only, no module
uses another's private names, and the library never prints."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "nerqa"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every `nerqa.*` import in a file (module level, inside functions and under
    TYPE_CHECKING alike): (module, names imported from it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] in ("nerqa", "nerqa_cli")
        ):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "nerqa"]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names in _imports(path):
            # `from nerqa.data.formats import conll` imports the submodule nerqa.data.formats.conll.
            targets = [f"{target}.{n}" if f"{target}.{n}" in modules else target for n in names] or [target]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_the_library_import_graph_has_no_cycle():
    graph = _graph()
    # Packages import their own submodules to re-export them; that is not a layering cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert "nerqa.audit.report" not in graph["nerqa.audit.folder"] and "nerqa.audit" not in graph["nerqa.audit.folder"]


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "cli").glob("*.py")):
        for module, names in _imports(path):
            own_package = (
                module.startswith(_module_name(path).rsplit(".", 1)[0] + ".") and path.parent.name == "formats"
            )
            offenders += [
                f"{path.name}: {module}.{n}"
                for n in names
                if n.startswith("_") and n != "__version__" and not own_package
            ]
    assert offenders == []


def test_probs_and_outputs_import_without_torch():
    code = (
        "import sys, nerqa.data.probs, nerqa.audit.folder, nerqa.audit.issues; print('torch' in sys.modules, "
        "'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_the_library_never_prints():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("print", "input", "exit")
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
                and node.attr in ("exit", "stdout", "stderr")
            ):
                offenders.append(f"{path.name}:{node.lineno} sys.{node.attr}")
    assert offenders == []
