"""Progress of long commands: rich bars in a terminal, plain lines in logs and CI."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Optional

from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback
from nerqa_cli.console import err_console

_LABELS = {
    "train": "training steps",
    "epoch": "epochs",
    "predict": "predicting",
    "evaluate": "dev evaluation",
    "fold": "folds",
    "features": "encoder features",
    "select": "pool documents",
}
# Long streamed passes: the plain log gets a line at every tenth, not only at the end.
_STEPPED = frozenset({"select"})


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class LogLines:
    """A progress callback that writes one plain line per fold, per epoch (loss, dev F1) and
    per finished pass, with the time, the time elapsed and an ETA: for logs and CI, where bars
    cannot redraw. ETAs assume the remaining folds (epochs) take as long as the done ones."""

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.origin = clock()
        self.training_started = self.origin
        self.tenths: dict[str, int] = {}

    def __call__(self, task: str, completed: int, total: int, info: dict) -> None:
        now = self.clock()
        if task == "train":
            if completed <= 1:
                self.training_started = now
            return  # one line per epoch is enough
        if task not in ("fold", "epoch") and (completed < total or task == "evaluate"):
            tenth = completed * 10 // total if total else 0
            if task not in _STEPPED or tenth <= self.tenths.get(task, 0):
                return  # sentences and windows: only a finished pass; dev F1 is on the epoch line
            self.tenths[task] = tenth
        text = f"{time.strftime('%H:%M:%S')} {_LABELS.get(task, task)} {completed}/{total}"
        if task == "fold":
            text += f" ({info.get('mode', '')}{', cached' if info.get('cached') else ''})"
        if "loss" in info:
            text += f" loss {info['loss']:.4f}"
        if "sentences" in info:
            text += f" ({info['sentences']:,} sentences scored)"
        if "dev_f1" in info:
            text += f" dev F1 {info['dev_f1']:.3f}" + (" (stopped early)" if info.get("stopped_early") else "")
        text += f" elapsed {_duration(now - self.origin)}"
        start = {"fold": self.origin, "epoch": self.training_started, "select": self.origin}.get(task)
        if start is not None and 0 < completed < total:
            text += f" ETA {_duration((now - start) / completed * (total - completed))}"
        self.stream.write(text + "\n")
        self.stream.flush()


@contextlib.contextmanager
def rich_bars() -> Iterator[ProgressCallback]:
    """A rich progress display on stderr; yields a callback that creates one bar per task."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bars:
        tasks: dict[str, int] = {}
        last: dict[str, int] = {}

        def callback(task: str, completed: int, total: int, info: dict) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(_LABELS.get(task, task), total=total, info="")
            text = ""
            if "loss" in info:
                text = f"loss {info['loss']:.4f}"
            if "dev_f1" in info:
                text += f" dev F1 {info['dev_f1']:.3f}" + (" (stopped early)" if info.get("stopped_early") else "")
            if "sentences" in info:
                text = f"{info['sentences']:,} sentences scored"
            if completed < last.get(task, 0):  # a repeated pass (the next fold's epochs)
                bars.reset(tasks[task], total=total)
            last[task] = completed
            bars.update(tasks[task], completed=completed, total=total, **({"info": text.strip()} if text else {}))

        yield callback


@contextlib.contextmanager
def progress_display(log_file: Optional[Path] = None) -> Iterator[ProgressCallback]:
    """Progress for a long command: rich bars in a terminal, plain lines on stderr otherwise
    (`nerqa audit ... > log 2>&1`), and the plain lines appended to `log_file` too."""
    with contextlib.ExitStack() as stack:
        callbacks: list[ProgressCallback] = []
        if err_console.is_terminal:
            callbacks.append(stack.enter_context(rich_bars()))
        else:
            callbacks.append(LogLines(sys.stderr))
        if log_file is not None:
            try:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                callbacks.append(LogLines(stack.enter_context(log_file.open("a", encoding="utf-8"))))
            except OSError as error:
                raise NerqaError(f"{log_file}: cannot write the log: {error.strerror or error}") from None

        def callback(task: str, completed: int, total: int, info: dict) -> None:
            for each in callbacks:
                each(task, completed, total, info)

        yield callback
