"""The README and the docs stay true to the code: every repo path they cite exists, every
dotted `nerqa.` name resolves, and every `nerqa` command line in a fenced block parses (its
command exists and each of its options is one that command's `--help` lists)."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import typer.main

from nerqa_cli.main import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"(?<![\w/.-])((?:tests|bench|nerqa|cli)/[\w/.-]*[\w/])")
NAME = re.compile(r"(?<![\w.])(nerqa(?:\.[A-Za-z_]\w*)+)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def cited(pattern: re.Pattern, text: str) -> set[str]:
    return {m.group(1) for m in pattern.finditer(text)}


def resolves(name: str) -> bool:
    """Whether `nerqa.a.b.c` is a module, or an attribute (at any depth) of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


def command_lines(text: str) -> list[str]:
    """The `nerqa ...` invocations of the page's shell blocks (`.venv/bin/nerqa` too), one per
    line, continuation lines joined."""
    out = []
    for language, body in FENCE.findall(text):
        if language not in ("", "bash", "sh", "console", "shell"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|\|\||;|\|", line):
                words = part.strip().removeprefix("$ ").split()
                if words and words[0].endswith("nerqa") and "/" not in words[0].replace(".venv/bin/nerqa", "nerqa"):
                    out.append(" ".join(["nerqa", *words[1:]]))
    return out


def options_of(line: str) -> tuple[list[str], str | None]:
    """The command path of a `nerqa ...` line and its `--options`, or the reason it does not parse."""
    command = typer.main.get_command(app)
    words = shlex.split(line.split(" #")[0])[1:]
    path = []
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words[0]]
        path.append(words.pop(0))
    if hasattr(command, "commands"):
        return path, f"{' '.join(path) or 'nerqa'}: no such command {words[:1]}"
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in known]
    return path, f"unknown options {unknown}" if unknown else None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repo_path_a_page_cites_exists(page: Path):
    missing = sorted(p for p in cited(PATH, page.read_text(encoding="utf-8")) if not (ROOT / p.split("::")[0]).exists())
    assert not missing, f"{page.name} cites paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_dotted_nerqa_name_a_page_cites_resolves(page: Path):
    names = cited(NAME, page.read_text(encoding="utf-8"))
    broken = sorted(n for n in names if not resolves(n.rstrip(".")))
    assert not broken, f"{page.name} cites names that do not exist: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_line_in_a_page_parses(page: Path):
    bad = []
    for line in command_lines(page.read_text(encoding="utf-8")):
        _, problem = options_of(line)
        if problem:
            bad.append(f"{line}: {problem}")
    assert not bad, f"{page.name}:\n" + "\n".join(bad)


def test_the_checks_catch_a_stale_path_name_and_option():
    text = "See `tests/test_gone.py` and `nerqa.auditing.gone`.\n```bash\nnerqa audit c.txt --no-such-flag\n```\n"
    assert [p for p in cited(PATH, text) if not (ROOT / p).exists()] == ["tests/test_gone.py"]
    assert not resolves("nerqa.auditing.gone") and resolves("nerqa.auditing.mentions.EXACT_LIMIT")
    assert options_of(command_lines(text)[0])[1] == "unknown options ['--no-such-flag']"
    assert options_of("nerqa decisions export AUDIT --out F")[1] is None


def test_the_architecture_page_lists_every_module_with_its_job():
    """Each module of `nerqa/` and `cli/` has a row on the architecture page, and the row says
    what the module's docstring says its one job is."""
    import ast

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(ROOT.glob("nerqa/**/*.py")) + sorted(ROOT.glob("cli/*.py")):
        if path.name == "__init__.py" and path.parent.name != "formats":  # packages: their modules speak
            continue
        job = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).split("\n\n")[0].strip()
        if f" | {job.replace('|', '/')} |" not in page:
            missing.append(f"{path.relative_to(ROOT)}: {job}")
    assert not missing


def _documented_parameters(doc: str) -> set[str]:
    """The names a Google-style docstring's `Args:` section documents."""
    found = re.search(r"\n\s*Args:\n(.*?)(?:\n\s*\n\s*\w+:\n|\Z)", "\n" + doc, re.S)
    names: set[str] = set()
    for line in (found.group(1) if found else "").splitlines():
        entry = re.match(r"\s{4,}([\w, ]+?)(?: \([^)]*\))?:", line)
        if entry:
            names |= {name.strip() for name in entry.group(1).split(",")}
    return names


def test_every_function_on_the_api_page_documents_its_parameters():
    """Each function the API page renders (its `:::` blocks: the members listed, else the
    module's public names), and each public method of a class there, has an `Args:` section
    naming every parameter."""
    import inspect

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^::: ([\w.]+)\n(?:    options:\n      members: \[([^\]]*)\])?", page, re.M)
    assert len(blocks) > 20
    undocumented = []

    def check(name: str, function) -> None:
        parameters = [
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        lacking = sorted(set(parameters) - _documented_parameters(inspect.getdoc(function) or ""))
        if lacking:
            undocumented.append(f"{name}: {', '.join(lacking)}")

    for module_name, members in blocks:
        module = importlib.import_module(module_name)
        names = (
            [m.strip() for m in members.split(",")]
            if members
            else [
                n
                for n, v in vars(module).items()
                if not n.startswith("_") and getattr(v, "__module__", None) == module_name
            ]
        )
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value):
                check(f"{module_name}.{name}", value)
            elif inspect.isclass(value):
                for attribute, member in vars(value).items():
                    if inspect.isfunction(member) and not attribute.startswith("_"):
                        if member.__qualname__.startswith(value.__qualname__ + "."):
                            check(f"{module_name}.{name}.{attribute}", member)
    assert not undocumented
