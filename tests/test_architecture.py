"""The layout's promises: the layers (data <- models <- audit / active <- review / serve <- cli) only
import downwards, no import cycles, numpy-only modules stay numpy-only, no module uses
another's private names, and the library never prints."""

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
    assert (
        "nerqa.auditing.report" not in graph["nerqa.auditing.folder"]
        and "nerqa.auditing" not in graph["nerqa.auditing.folder"]
    )


def test_no_module_imports_another_modules_private_names():
    """Neither a private name (`_x`) nor a private module (`_common`) is reached from another
    module, in the library, the CLI, the tests or the benchmarks; a package's own private
    submodules are its business."""
    offenders = []
    places = [PACKAGE, ROOT / "cli", ROOT / "tests", ROOT / "bench"]
    for path in (p for place in places for p in place.rglob("*.py") if ".cache" not in p.parts):
        here = _module_name(path) if path.is_relative_to(PACKAGE) else ""
        for module, names in _imports(path):
            private_module = any(part.startswith("_") and part != "__init__" for part in module.split("."))
            own = here.rsplit(".", 1)[0] == module.rsplit(".", 1)[0] if here else False
            if private_module and not own:
                offenders.append(f"{path.relative_to(ROOT)}: module {module}")
            offenders += [
                f"{path.relative_to(ROOT)}: {module}.{n}" for n in names if n.startswith("_") and n != "__version__"
            ]
    assert offenders == []


def test_probs_and_outputs_import_without_torch():
    code = (
        "import sys, nerqa.data.probs, nerqa.auditing.folder, nerqa.auditing.issues; print('torch' in sys.modules, "
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


# The layers, lowest first: a module may import its own package and any lower layer, never a
# higher one or a sibling package of its own layer (audit and active know nothing of each other).
LAYERS = {
    "nerqa.errors": 0,
    "nerqa.files": 0,
    "nerqa.progress": 0,
    "nerqa.config": 0,
    "nerqa.text": 0,
    "nerqa.data": 1,
    "nerqa.models": 2,
    "nerqa.interop": 2,
    "nerqa.auditing": 3,
    "nerqa.active": 3,
    "nerqa.review": 4,
    "nerqa.serve": 4,
    "nerqa_cli": 5,
}


def layer_of(module: str) -> tuple[str, int] | None:
    """The package (or base module) a module belongs to, and its layer; None for `nerqa` itself
    (its lazy `__init__` re-exports every layer's public names)."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            # The base modules are one layer of helpers: they may import each other.
            return ("base" if LAYERS[prefix] == 0 else prefix), LAYERS[prefix]
    return None


def layering_violations(root: Path) -> list[str]:
    """Every import in `root`'s library and CLI that reaches up a layer or across to a sibling."""
    found = []
    files = list((root / "nerqa").rglob("*.py")) + list((root / "cli").rglob("*.py"))
    for path in files:
        relative = path.relative_to(root)
        parts = relative.with_suffix("").parts
        name = (
            "nerqa_cli." + path.stem
            if parts[0] == "cli"
            else ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        )
        source = layer_of(name)
        if source is None:
            continue
        for target, names in _imports(path):
            for module in [f"{target}.{n}" for n in names] or [target]:
                place = layer_of(module) or layer_of(target)
                if place is None or place[0] == source[0]:
                    continue
                if place[1] >= source[1]:
                    found.append(f"{relative}: {name} (layer {source[1]}) imports {target} (layer {place[1]})")
                    break
    return found


def test_each_layer_imports_only_the_layers_below_it():
    assert layering_violations(ROOT) == []


def test_the_layering_check_sees_an_upward_import(tmp_path: Path):
    import shutil

    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "nerqa", copy / "nerqa")
    shutil.copytree(ROOT / "cli", copy / "cli")
    corpus = copy / "nerqa" / "data" / "corpus.py"
    corpus.write_text(
        corpus.read_text() + "\n\ndef _up():\n    from nerqa.auditing.issues import Issue\n\n    return Issue\n"
    )
    sideways = copy / "nerqa" / "auditing" / "issues.py"
    sideways.write_text(
        sideways.read_text() + "\n\ndef _across():\n    from nerqa.active import select\n\n    return select\n"
    )
    assert sorted(layering_violations(copy)) == [
        "nerqa/auditing/issues.py: nerqa.auditing.issues (layer 3) imports nerqa.active (layer 3)",
        "nerqa/data/corpus.py: nerqa.data.corpus (layer 1) imports nerqa.auditing.issues (layer 3)",
    ]


def test_no_function_over_80_lines_and_no_module_over_500_in_nerqa_and_cli():
    """Issue 30's limits, counted as `bench/code_size.py` counts them (from the ast)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("code_size", ROOT / "bench" / "code_size.py")
    code_size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code_size)
    sizes = code_size.measure()
    assert [f for f in sizes["functions"] if f[1] > 80] == []
    assert [m for m in sizes["modules"] if m[1] > 500] == []
    # The count sees a long function: it is not vacuous.
    assert sizes["functions"][0][1] > 60 and len(sizes["modules"]) > 80


def test_the_literal_types_list_what_their_tables_hold():
    """What module-level asserts used to say: each `Literal` type names exactly the entries of
    the table the code reads (an option added to one and not the other fails here)."""
    from typing import get_args

    from nerqa.config import MODES, Mode
    from nerqa.data.formats import FORMATS
    from nerqa_cli.reading import FormatName

    assert tuple(MODES) == get_args(Mode)
    assert get_args(FormatName) == FORMATS


def test_nothing_at_module_level_asserts_or_declares_a_global():
    """No module of the library states an invariant with a module-level `assert` or rebinds a
    module-level name with `global`: invariants are tests, state lives in objects."""
    import ast

    found = []
    for path in sorted(ROOT.glob("nerqa/**/*.py")) + sorted(ROOT.glob("cli/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.name}:{n.lineno} assert" for n in tree.body if isinstance(n, ast.Assert)]
        found += [f"{path.name}:{n.lineno} global" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    assert not found


def test_no_library_function_takes_more_than_eight_parameters():
    """Longer lists become parameter objects (`self` and `cls` not counted; the commands in
    `cli/` are exempt: their parameters are the command line's options)."""
    long = []
    for path in sorted(ROOT.glob("nerqa/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                count = len(names) + bool(a.vararg) + bool(a.kwarg)
                if count > 8:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({count})")
    assert not long


def test_importing_the_library_changes_no_process_state():
    """Importing every module of the library leaves the umask alone: it is read where a file is
    written, not toggled at import."""
    probe = (
        "import os, pkgutil, importlib\n"
        "calls = []\n"
        "real = os.umask\n"
        "os.umask = lambda mask: (calls.append(mask), real(mask))[1]\n"
        "import nerqa\n"
        "for m in pkgutil.walk_packages(nerqa.__path__, 'nerqa.'):\n"
        "    if not m.name.startswith('nerqa.serve'):\n"
        "        importlib.import_module(m.name)\n"
        "print(calls)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
