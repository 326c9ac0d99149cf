"""`nerqa predict`: tag a corpus or raw text with a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.formats import FORMATS, corpus_from_raw_text, read_corpus, read_text, write_corpus
from nerqa_cli._util import (
    EntityTypeOpt, FormatOpt, MergeOpt, RepairOpt, SchemeOpt, check_format, console, existing_path, progress_bars,
    quiet_transformers, read_options, user_errors,
)


def predict_cli(
    model_dir: Annotated[Path, typer.Argument(help="Trained model folder.")],
    source: Annotated[Path, typer.Argument(help="Corpus file, or raw text with --text.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output corpus file.")],
    to: Annotated[Optional[str], typer.Option("--to", "-t", help=f"Output format ({', '.join(FORMATS)}); implied by --out's name if omitted.", callback=check_format)] = None,
    text: Annotated[bool, typer.Option("--text", help="SOURCE is raw text: split it into sentences and tokens.")] = False,
    probs: Annotated[Optional[Path], typer.Option(help="Also save word-level probabilities (.npz: s0, s1, ... and tags).")] = None,
    format: FormatOpt = None,
    scheme: SchemeOpt = "auto",
    repair: RepairOpt = False,
    merge_types: MergeOpt = None,
    entity_type: EntityTypeOpt = "ENT",
) -> None:
    """Tag a corpus (or raw text) and write it in any supported format."""
    from nerqa.model import load_classifier, save_probs, tag_corpus

    with user_errors():
        options = read_options(scheme, repair, merge_types, entity_type, 0, -1)
        existing_path(source)
        corpus = corpus_from_raw_text(read_text(source)) if text else read_corpus(source, format, options=options)
        quiet_transformers()
        classifier = load_classifier(model_dir)
        with progress_bars() as progress:
            tagged, word_probs = tag_corpus(classifier, corpus, progress=progress)
        written = write_corpus(tagged, out, to, options=options)
        if probs is not None:
            save_probs(probs, word_probs, classifier.tags)
            written.append(probs)
    n = sum(len(s.spans) for s in tagged.sentences)
    console.print(f"[green]Tagged[/] {len(tagged):,} sentences, {n:,} entities; wrote {', '.join(map(str, written))}", highlight=False)
