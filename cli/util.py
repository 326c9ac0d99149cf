"""Shared CLI pieces: the consoles, the error display, the corpus-reader options that every
reading command takes, and progress rendering (rich bars in a terminal, plain lines in logs)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Literal, Optional, get_args

import typer
from rich.console import Console
from rich.markup import escape

from nerqa.config import check_choice
from nerqa.data.corpus import Corpus
from nerqa.data.formats import FORMATS, ReadOptions, read_corpus, read_splits
from nerqa.errors import NerqaError
from nerqa.progress import ProgressCallback

if TYPE_CHECKING:
    from nerqa.models.cluster import Cluster


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader closed the pipe (`nerqa stats | head`): nothing is wrong, exit 0 (rich exits 1)."""
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)


console = _Console()
err_console = _Console(stderr=True)

Scheme = Literal["auto", "iob1", "iob2", "bioes"]
FormatName = Literal["conll", "ncbi", "pubtator", "nemo", "jsonl", "jsonl-tokens", "hf", "spacy"]
assert get_args(FormatName) == FORMATS, "FormatName must list nerqa.data.formats.FORMATS"


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


def check_format(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


OutputFormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--to",
        "-t",
        metavar="FORMAT",
        help=f"Output format ({', '.join(FORMATS)}); implied by --out's name if omitted.",
        callback=check_format,
    ),
]


def counted(n: int, singular: str, plural: Optional[str] = None) -> str:
    """`n` with its noun in the right number: `1 sentence`, `2 sentences`, `3 entities`."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


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


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Write into an output folder that holds files nerqa did not write (they are kept; files of the "
        "names nerqa writes are replaced).",
    ),
]


def existing_path(path: Path) -> Path:
    if str(path).startswith("hf:"):  # a dataset in the local datasets cache, by name
        return path
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    return path


# --- corpus reader options --------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusReader:
    """How a command reads corpora: the `--format` (None: detected) and the reader options."""

    format: Optional[str]
    options: ReadOptions

    def read(self, path: Path) -> Corpus:
        return read_corpus(existing_path(path), self.format, options=self.options)

    def read_splits(self, path: Path) -> dict[str, Corpus]:
        return read_splits(existing_path(path), self.format, options=self.options)

    def but(self, *, format: Optional[str] = None, merge_type: Optional[str] = None) -> CorpusReader:
        """A copy with a format or type merge taken from elsewhere (a config file), when given."""
        options = (
            self.options if merge_type is None else ReadOptions(**{**self.options.__dict__, "merge_type": merge_type})
        )
        return CorpusReader(format or self.format, options)


_READER_OPTIONS: list[tuple[str, object, object]] = [
    (
        "format",
        Annotated[
            Optional[str],
            typer.Option(
                "--format",
                "-f",
                metavar="FORMAT",
                help=f"Input format ({', '.join(FORMATS)}); detected from name and content if omitted.",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "scheme",
        Annotated[
            str,
            typer.Option(
                metavar="auto|iob1|iob2|bioes",
                help="Tag scheme of token formats (auto: detected).",
                rich_help_panel="Reading",
            ),
        ],
        "auto",
    ),
    (
        "repair",
        Annotated[
            bool,
            typer.Option(
                "--repair",
                help="Read an I- tag that starts a span as B- instead of failing.",
                rich_help_panel="Reading",
            ),
        ],
        False,
    ),
    (
        "merge_types",
        Annotated[
            Optional[str],
            typer.Option(
                "--merge-types",
                metavar="TYPE",
                help="Rename every entity type to TYPE (e.g. Disease: merge the four NCBI categories).",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "entity_type",
        Annotated[
            str,
            typer.Option(
                metavar="TYPE", help="Type given to bare B/I tags (NeMo labels files).", rich_help_panel="Reading"
            ),
        ],
        "ENT",
    ),
    (
        "split",
        Annotated[
            Optional[str],
            typer.Option(
                metavar="NAME",
                help="The split of a Hugging Face DatasetDict to read (default: every split).",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "tag_names",
        Annotated[
            Optional[str],
            typer.Option(
                "--tags",
                metavar="TAGS",
                help="Names of integer tags in a Hugging Face dataset without a ClassLabel (id i is the i-th).",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "token_column",
        Annotated[
            int,
            typer.Option(help="CoNLL token column (0-based; negative counts from the end).", rich_help_panel="Reading"),
        ],
        0,
    ),
    (
        "tag_column",
        Annotated[
            int,
            typer.Option(help="CoNLL tag column (0-based; negative counts from the end).", rich_help_panel="Reading"),
        ],
        -1,
    ),
]


def with_reader(command: Callable) -> Callable:
    """Give a command the reader options (`--format`, `--scheme`, `--repair`, `--merge-types`,
    `--entity-type`, `--split`, `--tags`, `--token-column`, `--tag-column`) and pass them as one `reader:
    CorpusReader` argument, so that no command repeats them."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "reader"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, annotation, default in _READER_OPTIONS
    ]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name, _, _ in _READER_OPTIONS}
        with user_errors():
            check_choice("--scheme", values["scheme"], Scheme)
            if values["format"] is not None:
                check_choice("--format", values["format"], FormatName)
        options = ReadOptions(
            scheme=values["scheme"],
            repair=values["repair"],
            token_column=values["token_column"],
            tag_column=values["tag_column"],
            entity_type=values["entity_type"],
            merge_type=values["merge_types"],
            split=values["split"],
            tag_names=tuple(t.strip() for t in values["tag_names"].split(",")) if values["tag_names"] else None,
        )
        return command(*args, reader=CorpusReader(values["format"], options), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    return wrapper


# --- progress ---------------------------------------------------------------------------------

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


def readable_help() -> None:
    """Help that reads the same at 80 columns as at 200, in the conventions of Unix help:
    arguments and value types in upper case (`CORPUS`, `PATH`, `INT`; typer writes `{corpus}`
    and `<list[Path]>`), choices as `a|b`, no type after a flag (typer shows `<bool>`, which
    reads as if the flag took a value), and no type after an argument (its name says it)."""
    from typer.core import TyperArgument, TyperOption, _TyperParameter

    if getattr(_TyperParameter.display_type, "nerqa", False):
        return
    typed = _TyperParameter.display_type

    def display_type(self, ctx):
        label = typed(self, ctx).strip("<>")
        if label.startswith("list[") and label.endswith("]"):
            label = label[5:-1] + "..."
        return label if "|" in label else label.upper()

    def option_type(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        if self.metavar is not None:
            return self.metavar
        return display_type(self, ctx) + ("..." if self.nargs != 1 else "")

    def usage_name(self) -> str:
        name = self.metavar or self.name.upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    display_type.nerqa = True  # type: ignore[attr-defined]
    _TyperParameter.display_type = display_type  # type: ignore[method-assign]
    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    TyperArgument._rich_display_name = lambda self: self.metavar or self.name.upper()  # type: ignore[method-assign]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]


def prepare_models() -> None:
    """Before a command loads a model: transformers' own bars and load reports off (nerqa
    draws its own), and torch's CPU threads set to the cores free now."""
    from nerqa.models.runtime import quiet_transformers, set_threads

    set_threads()
    quiet_transformers()


# --- the review commands' shared options and session ----------------------------------------------

ReviewerOpt = Annotated[
    Optional[str], typer.Option(help="Your name in the decision log (default: $NERQA_REVIEWER or your login).")
]
IssueTypeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--type", metavar="TYPE", help="Only these issue types (see nerqa audit); repeat or comma-separate."),
]
ClassOpt = Annotated[
    Optional[list[str]], typer.Option("--class", metavar="CLASS", help="Only issues of these entity classes.")
]
MaxScoreOpt = Annotated[
    Optional[float], typer.Option(help="Only issues scoring at most this (lower = more suspicious).")
]


def names(values: Optional[list[str]]) -> frozenset[str]:
    """Repeated or comma-separated option values, as a set."""
    return frozenset(v.strip() for value in values or [] for v in value.split(",") if v.strip())


def review_filters(
    issue_type: Optional[list[str]],
    entity_class: Optional[list[str]],
    max_score: Optional[float],
    min_confidence: Optional[float] = None,
):
    """The queue filters the options ask for; unknown issue types fail here, before any file is read."""
    from nerqa.auditing.issues import ISSUE_TYPES
    from nerqa.errors import ConfigError
    from nerqa.review.session import Filters

    unknown = sorted(names(issue_type) - set(ISSUE_TYPES))
    if unknown:
        raise ConfigError(f"--type: unknown issue types {', '.join(unknown)}; types are {', '.join(ISSUE_TYPES)}")
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ConfigError(f"--min-confidence must be between 0 and 1, not {min_confidence:g}")
    return Filters(names(issue_type), names(entity_class), max_score, min_confidence=min_confidence)


def load_reviewed_audit(reader: CorpusReader, corpus: Path, audit_dir: Path, filters):
    """The audit of `corpus` in `audit_dir`, checked against the corpus; a `--class` that no
    issue has fails here in one line."""
    from nerqa.auditing.folder import load_audit
    from nerqa.errors import ConfigError

    result = load_audit(existing_path(audit_dir), reader.read(corpus))
    known = sorted({t for i in result.issues for t in (i.given, i.suggested)} - {"O"})
    unknown = sorted(filters.classes - set(known))
    if unknown:
        raise ConfigError(
            f"--class: no issue has the class {', '.join(unknown)}; classes are {', '.join(known) or 'none'}"
        )
    return result


# --- running on Ray (audit and select) -------------------------------------------------------------

WorkersOpt = Annotated[
    Optional[int],
    typer.Option(
        help="Run on Ray, this many tasks at once: on a local Ray over this machine's cores, or on the cluster at "
        "--ray-address (default there: one per GPU, else per CPU).",
    ),
]
RayAddressOpt = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="Run on this Ray cluster (e.g. ray://head:10001, or auto on a cluster node); $RAY_ADDRESS is read "
        "with --workers.",
    ),
]


@contextlib.contextmanager
def ray_cluster(workers: Optional[int], address: Optional[str]) -> Iterator[Optional[Cluster]]:
    """The Ray cluster `--workers`/`--ray-address` name, announced in one line; None without either."""
    if workers is None and address is None:
        yield None
        return
    from nerqa.models.cluster import connect

    with connect(workers, address) as cluster:
        each = "one GPU" if cluster.gpus >= 1 else f"{cluster.threads} CPU{'s' if cluster.threads > 1 else ''}"
        err_console.print(
            f"Ray: {cluster.address}, {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs; {cluster.workers} at once, "
            f"{each} each.",
            highlight=False,
        )
        yield cluster
