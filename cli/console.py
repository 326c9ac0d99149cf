"""Where commands speak: consoles, one-line errors, next steps.

Where commands speak: the consoles, one-line errors, and the small helpers of what a command
says and where its one-file output goes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Optional

import typer
from rich.console import Console
from rich.markup import escape

from nerqa.errors import NerqaError
from nerqa.text import counted

__all__ = [
    "console",
    "counted",
    "err_console",
    "existing_path",
    "output",
    "prepare_models",
    "status_console",
    "user_errors",
    "writes_to_stdout",
]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader closed the pipe (`nerqa stats | head`): nothing is wrong, exit 0 (rich exits 1)."""
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)


console = _Console()
err_console = _Console(stderr=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a `NerqaError` as one red line on stderr and exit 1, without a traceback."""
    try:
        yield
    except NerqaError as error:
        err_console.print(f"[bold red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/]")
        raise typer.Exit(130) from None


def output(out: Path) -> Path | IO[str]:
    """What a command writes a one-file output to: the path, or standard output for `-`."""
    from nerqa.files import is_stdout

    return sys.stdout if is_stdout(out) else out


def writes_to_stdout(out: Path) -> bool:
    """Whether writing `out` writes this process's standard output (`-`, `/dev/stdout`, or the
    file or pipe standard output is)."""
    import os

    from nerqa.files import is_stdout

    if is_stdout(out):
        return True
    try:
        here, there = os.stat(out), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no such path, or stdout is no real file (tests)
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def status_console(out: Optional[Path]) -> Console:
    """Where a command says what it did: standard output, or standard error when its output
    goes to standard output (`--out -`, `/dev/stdout`), so that the two never mix."""
    return err_console if out is not None and writes_to_stdout(out) else console


def next_step(text: str, out: Optional[Path] = None) -> None:
    """The work a command leaves, as its last line: the command to run next (to standard error
    when the command's output goes to standard output)."""
    status_console(out).print(f"[bold]Next:[/] {escape(text)}", highlight=False, soft_wrap=True)


def existing_path(path: Path) -> Path:
    if str(path).startswith("hf:"):  # a dataset in the local datasets cache, by name
        return path
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    return path


def prepare_models() -> None:
    """Before a command loads a model: transformers' own bars and load reports off (nerqa
    draws its own), and torch's CPU threads set to the cores free now."""
    from nerqa.models.runtime import quiet_transformers, set_threads

    set_threads()
    quiet_transformers()
