"""`nerqa convert`: any corpus format to any other, files or folders of splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.errors import NerqaError
from nerqa.formats import FORMATS, format_for_output, read_corpus, read_splits, write_corpus, write_splits
from nerqa_cli._util import (
    EntityTypeOpt, FormatOpt, MergeOpt, RepairOpt, SchemeOpt, TagColOpt, TokenColOpt, check_format, console,
    existing_path, read_options, user_errors,
)


def convert_cli(
    source: Annotated[Path, typer.Argument(help="Corpus file, or folder of splits.")],
    target: Annotated[Path, typer.Argument(help="Output file, or folder when SOURCE is a folder.")],
    from_format: FormatOpt = None,
    to: Annotated[Optional[str], typer.Option("--to", "-t", help=f"Output format ({', '.join(FORMATS)}); implied by TARGET's name if omitted.", callback=check_format)] = None,
    scheme: SchemeOpt = "auto",
    repair: RepairOpt = False,
    merge_types: MergeOpt = None,
    entity_type: EntityTypeOpt = "ENT",
    token_column: TokenColOpt = 0,
    tag_column: TagColOpt = -1,
) -> None:
    """Convert a corpus between formats (CoNLL/IOB, NCBI inline, PubTator, NeMo, JSONL)."""
    with user_errors():
        options = read_options(scheme, repair, merge_types, entity_type, token_column, tag_column)
        existing_path(source)
        if source.is_dir():
            fmt = to or format_for_output(target)
            if fmt is None:
                raise NerqaError(f"{target}: pass --to to choose the format of the output folder")
            splits = read_splits(source, from_format, options=options)
            written = write_splits(splits, target, fmt, options=options)
            counts = {name: len(c) for name, c in splits.items()}
        else:
            corpus = read_corpus(source, from_format, options=options)
            written = write_corpus(corpus, target, to, options=options)
            counts = {source.name: len(corpus)}
        sentences = ", ".join(f"{name}: {n:,} sentences" for name, n in counts.items())
        console.print(f"[green]Wrote[/] {', '.join(str(p) for p in written)} ({sentences})", highlight=False)
