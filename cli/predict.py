"""`nerqa predict`: tag a corpus or raw text with a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.data.formats import check_output, corpus_from_raw_text, read_text, write_corpus
from nerqa.files import check_output_file
from nerqa_cli.console import counted, existing_path, output, prepare_models, status_console, user_errors
from nerqa_cli.progress import progress_display
from nerqa_cli.reading import CorpusForceOpt, CorpusReader, OutputFormatOpt, with_reader


@with_reader
def predict_cli(
    model_dir: Annotated[Path, typer.Argument(help="Trained model folder.")],
    source: Annotated[Path, typer.Argument(help="Corpus file, or raw text with --text.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output corpus file.")],
    to: OutputFormatOpt = None,
    text: Annotated[
        bool, typer.Option("--text", help="SOURCE is raw text: split it into sentences and tokens.")
    ] = False,
    probs: Annotated[
        Optional[Path], typer.Option(help="Also save word-level probabilities (.npz: s0, s1, ... and tags).")
    ] = None,
    force: CorpusForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Tag a corpus (or raw text) and write it in any supported format."""
    with user_errors():
        existing_path(source)
        # Fail now, not after predicting: the outputs' formats and places must be usable.
        check_output(output(out), to, force=force)
        if probs is not None:
            check_output_file(probs)
        # Raw text: the file's name is the document's id (a JSONL record's "id").
        corpus = corpus_from_raw_text(read_text(source), doc_id=source.stem) if text else reader.read(source)
        prepare_models()
        from nerqa.data.probs import save_probs
        from nerqa.models.classifier import load_classifier
        from nerqa.models.predict import tag_corpus

        classifier = load_classifier(model_dir)
        with progress_display() as progress:
            tagged, word_probs = tag_corpus(classifier, corpus, progress=progress)
        written = write_corpus(tagged, output(out), to, options=reader.options, force=force)
        if probs is not None:
            save_probs(probs, word_probs, classifier.tags)
            written.append(probs)
    n = sum(len(s.spans) for s in tagged.sentences)
    status_console(out).print(
        f"[green]Tagged[/] {counted(len(tagged), 'sentence')}, {counted(n, 'entity', 'entities')}; "
        f"wrote {', '.join(map(str, written))}",
        highlight=False,
    )
