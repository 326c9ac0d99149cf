"""How large nerqa's functions, modules and commands are (issue 30's yardstick).

Counts from the ast of `nerqa/` and `cli/`: a function's length is its `def` line to its last
line (docstring and comments included); a module's is its line count; a command's body is the
statements under its signature and docstring.

    python bench/code_size.py [--limit-function 80] [--limit-module 500]
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def functions(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function and method in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((f"{prefix}{child.name}", child.end_lineno - child.lineno + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def command_bodies(path: Path) -> list[tuple[str, int]]:
    """(name, body lines) of the `*_cli` commands in a `cli/` file: signature and docstring left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_cli"):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                out.append((node.name, body[-1].end_lineno - body[0].lineno + 1))
    return out


def measure(roots: tuple[str, ...] = ("nerqa", "cli")) -> dict:
    files = sorted(p for r in roots for p in (ROOT / r).rglob("*.py"))
    funcs = [(f"{p.relative_to(ROOT)}:{name}", n) for p in files for name, n in functions(p)]
    modules = [(str(p.relative_to(ROOT)), len(p.read_text(encoding="utf-8").splitlines())) for p in files]
    commands = [(f"{p.stem}.{name}", n) for p in files if p.parent.name == "cli" for name, n in command_bodies(p)]
    return {
        "functions": sorted(funcs, key=lambda x: -x[1]),
        "modules": sorted(modules, key=lambda x: -x[1]),
        "commands": sorted(commands, key=lambda x: -x[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-function", type=int, default=80)
    parser.add_argument("--limit-module", type=int, default=500)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    m = measure()
    funcs, modules = m["functions"], m["modules"]
    print(
        f"functions: {len(funcs)}; over 60 lines: {sum(n > 60 for _, n in funcs)}; "
        f"over {args.limit_function}: {sum(n > args.limit_function for _, n in funcs)}"
    )
    for name, n in funcs[: args.top]:
        print(f"  {n:4d}  {name}")
    print(f"modules: {len(modules)}; over {args.limit_module} lines: {sum(n > args.limit_module for _, n in modules)}")
    for name, n in modules[: args.top]:
        print(f"  {n:4d}  {name}")
    print("command bodies (lines):")
    for name, n in m["commands"]:
        print(f"  {n:4d}  {name}")


if __name__ == "__main__":
    main()
