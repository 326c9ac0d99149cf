"""`nerqa convert`: any corpus format to any other, files or folders of splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.data.corpus import Corpus
from nerqa.data.formats import (
    FORMATS,
    format_for_output,
    read_corpus,
    write_corpus,
    write_splits,
)
from nerqa.errors import NerqaError
from nerqa.files import is_stdout
from nerqa_cli.console import existing_path, output, status_console, user_errors
from nerqa_cli.reading import STDIN, CorpusForceOpt, CorpusReader, check_format, note_lost_columns, with_reader


@with_reader
def convert_cli(
    source: Annotated[Path, typer.Argument(help="Corpus file, or folder of splits; - reads standard input.")],
    target: Annotated[Path, typer.Argument(help="Output file, or folder when SOURCE is a folder.")],
    to: Annotated[
        Optional[str],
        typer.Option(
            "--to",
            "-t",
            metavar="FORMAT",
            help=f"Output format ({', '.join(FORMATS)}); implied by TARGET's name if omitted.",
            callback=check_format,
        ),
    ] = None,
    merge: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--merge",
            "-m",
            help="Append this corpus (any format, detected; e.g. an annotation tool's export of a nerqa select "
            "batch); repeatable. Sentences already present are left out.",
        ),
    ] = None,
    force: CorpusForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Convert a corpus between formats (CoNLL/IOB, NCBI inline, PubTator, NeMo, JSONL, Hugging Face, spaCy)."""
    with user_errors():
        options = reader.options
        if str(source) != STDIN:
            existing_path(source)
        splits = reader.read_splits(source) if source.is_dir() or str(source).startswith("hf:") else None
        if splits is not None and len(splits) == 1 and _names_one_file(target, to):
            splits, corpus = None, next(iter(splits.values()))  # one split to one file: no folder of one
        elif splits is None:
            corpus = reader.read(source)
        if splits is not None:
            if merge:
                raise NerqaError("--merge goes with a single corpus file, not a folder of splits")
            fmt = to or format_for_output(target)
            if fmt is None:
                raise NerqaError(f"{target}: pass --to to choose the format of the output folder")
            note_lost_columns(Corpus(tuple(d for c in splits.values() for d in c.documents)), fmt)
            written = write_splits(splits, target, fmt, options=options, force=force)
            counts = {name: len(c) for name, c in splits.items()}
        else:
            left_out = 0
            if merge:
                # Additions are detected on their own: a tool's export is JSON whatever SOURCE is.
                added = [read_corpus(existing_path(path), options=options) for path in merge]
                corpus, left_out = corpus.merged(*added)
            note_lost_columns(corpus, to or format_for_output(target))
            written = write_corpus(corpus, output(target), to, options=options, force=force)
            counts = {source.name: len(corpus)}
        sentences = ", ".join(f"{name}: {n:,} sentence{'s' * (n != 1)}" for name, n in counts.items())
        if merge:
            sentences += (
                f" after merging {len(merge)} file{'s' * (len(merge) > 1)}; {left_out:,} sentences "
                "already present were left out"
            )
    status_console(target).print(f"[green]Wrote[/] {', '.join(str(p) for p in written)} ({sentences})", highlight=False)


def _names_one_file(target: Path, to: Optional[str]) -> bool:
    """Whether `target` names one file (`-`, or a name with a suffix that is no folder) of a
    one-file format, so that a source of one split is written there, not into a folder of one."""
    fmt = to or format_for_output(target)
    if fmt in (None, "nemo") or (fmt == "hf" and target.suffix.lower() != ".parquet"):
        return False
    return is_stdout(target) or (bool(target.suffix) and not target.is_dir())
