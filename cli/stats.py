"""`nerqa stats`: corpus statistics as rich tables."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.data.stats import CorpusStats, corpus_stats
from nerqa_cli.console import console, user_errors
from nerqa_cli.reading import CorpusReader, with_reader


@with_reader
def stats_cli(
    corpus: Annotated[Path, typer.Argument(help="Corpus file, or folder of splits; - reads standard input.")],
    forms: Annotated[int, typer.Option(min=1, help="Rows in each list of surface forms.")] = 10,
    rare_count: Annotated[int, typer.Option(min=0, help="A type with fewer entities is rare.")] = 50,
    casefold: Annotated[bool, typer.Option(help="Compare surface forms in lower case.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Show documents, sentences, tokens, entities per type, sentence lengths, rare types and
    surface forms labeled inconsistently."""
    with user_errors():
        splits = reader.read_splits(corpus)
        results = {
            name: corpus_stats(c, top=forms, rare_count=rare_count, casefold=casefold) for name, c in splits.items()
        }
    if as_json:
        console.print_json(json.dumps({name: _as_json(s) for name, s in results.items()}))
        return
    for name, stats in results.items():
        render_stats(name, stats)


def _as_json(stats: CorpusStats) -> dict:
    data = asdict(stats)
    for key in ("multi_type_forms", "partly_unlabeled_forms"):
        data[key] = [{"text": f.text, "types": dict(f.types), "unlabeled": f.unlabeled} for f in getattr(stats, key)]
    return data


def render_stats(name: str, stats: CorpusStats) -> None:
    """Print the tables of one split."""
    overview = Table(title=f"[bold]{escape(name)}[/]", show_header=False, title_justify="left")
    for label, value in (
        ("documents", stats.n_documents),
        ("sentences", stats.n_sentences),
        ("tokens", stats.n_tokens),
        ("entities", stats.n_entities),
        ("entity types", len(stats.types)),
    ):
        overview.add_row(label, f"{value:,}")
    console.print(overview)

    types = Table(title="Entities per type", title_justify="left")
    types.add_column("type")
    for column in ("entities", "share", "mean tokens", "distinct forms"):
        types.add_column(column, justify="right")
    for t in stats.types:
        flag = " [yellow](rare)[/]" if t.rare else ""
        types.add_row(
            escape(t.name) + flag, f"{t.count:,}", f"{t.share:.1%}", f"{t.mean_tokens:.2f}", f"{t.distinct_forms:,}"
        )
    console.print(types)

    if stats.types:
        frequent = Table(title="Most frequent surface forms per type", title_justify="left")
        for t in stats.types:
            frequent.add_column(escape(t.name), overflow="fold")
        depth = max(len(t.top_forms) for t in stats.types)
        for rank in range(depth):
            frequent.add_row(
                *(
                    f"{escape(t.top_forms[rank][0])} [dim]{t.top_forms[rank][1]}[/]" if rank < len(t.top_forms) else ""
                    for t in stats.types
                )
            )
        console.print(frequent)

    rare = [t for t in stats.types if t.rare]
    if rare:
        console.print(
            "[yellow]Rare types[/] (too little support to trust): "
            + ", ".join(f"{escape(t.name)} {t.count}" for t in rare)
        )

    lengths = Table(title="Sentence length (tokens)", title_justify="left")
    for key in stats.length_percentiles:
        lengths.add_column(key, justify="right")
    lengths.add_row(*(f"{v:.1f}" if key == "mean" else f"{v:.0f}" for key, v in stats.length_percentiles.items()))
    console.print(lengths)
    peak = max((n for _, n in stats.length_histogram), default=0) or 1
    histogram = Table(show_header=False, box=None, padding=(0, 1))
    for label, n in stats.length_histogram:
        histogram.add_row(label, f"{n:,}", "[cyan]" + "█" * round(30 * n / peak) + "[/]")
    console.print(histogram)

    if stats.multi_type_forms:
        multi = Table(title="Surface forms labeled with more than one type", title_justify="left")
        multi.add_column("form")
        multi.add_column("labeled as")
        multi.add_column("untagged", justify="right")
        for f in stats.multi_type_forms:
            multi.add_row(
                escape(f.text), ", ".join(f"{escape(t)} {n}" for t, n in f.types.most_common()), str(f.unlabeled)
            )
        console.print(multi)
    if stats.partly_unlabeled_forms:
        partly = Table(title="Surface forms labeled in some places and untagged in others", title_justify="left")
        partly.add_column("form")
        partly.add_column("labeled", justify="right")
        partly.add_column("untagged", justify="right")
        partly.add_column("types")
        for f in stats.partly_unlabeled_forms:
            partly.add_row(escape(f.text), str(f.labeled), str(f.unlabeled), ", ".join(escape(t) for t in f.types))
        console.print(partly)
