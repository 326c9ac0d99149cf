"""`nerqa audit`: cross-validated label-issue detection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nerqa.audit import AuditResult
from nerqa.config import TrainConfig
from nerqa.formats import read_corpus
from nerqa_cli._util import (
    EntityTypeOpt, FormatOpt, MergeOpt, RepairOpt, SchemeOpt, console, err_console, existing_path, progress_bars,
    quiet_transformers, read_options, user_errors,
)


def audit_cli(
    corpus: Annotated[Path, typer.Argument(help="Corpus to audit.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the audit files (and the fold cache).")] = Path("audit"),
    folds: Annotated[int, typer.Option("--folds", "-k", min=2, help="Cross-validation folds (grouped by document).")] = 5,
    mode: Annotated[str, typer.Option(help="both (the mean of full and fast), full (fine-tune per fold) or fast (frozen encoder, BiLSTM head per fold).")] = "both",
    model: Annotated[Optional[Path], typer.Option(help="Encoder folder to fine-tune (default: the bundled MiniLM).")] = None,
    trained: Annotated[Optional[Path], typer.Option("--trained", help="Audit with this already trained model instead of cross-validation.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML training settings for the folds.")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Epochs per fold (default 6).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate per fold (default 2e-4).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for folds and training.")] = None,
    level: Annotated[str, typer.Option(help="Score entity types (B/I merged) or iob tags.")] = "types",
    top: Annotated[int, typer.Option(help="Issues shown in the terminal.")] = 15,
    format: FormatOpt = None,
    scheme: SchemeOpt = "auto",
    repair: RepairOpt = False,
    merge_types: MergeOpt = None,
    entity_type: EntityTypeOpt = "ENT",
) -> None:
    """Find the labels most likely wrong: typed span issues, inconsistent and sparse forms."""
    # Heavy imports (torch, transformers) happen here, so `nerqa --help` stays quick.
    from nerqa.audit import audit, fold_config, write_outputs
    from nerqa.model import load_classifier

    with user_errors():
        options = read_options(scheme, repair, merge_types, entity_type, 0, -1)
        data = read_corpus(existing_path(corpus), format, options=options)
        settings = TrainConfig.from_yaml(config) if config else fold_config()
        settings = settings.replace(model=str(model) if model else None, epochs=epochs, learning_rate=lr, seed=seed, tensorboard=False)
        quiet_transformers()
        classifier = None
        if trained is not None:
            classifier = load_classifier(trained)
            err_console.print("[yellow]Warning:[/] --trained predictions are not out-of-sample for the sentences that model was trained on.")
        with progress_bars() as progress:
            result = audit(data, settings, k=folds, mode=mode, level=level, cache_dir=out / "cache", classifier=classifier, progress=progress)
        written = write_outputs(result, out)
    render_summary(result, top)
    console.print(f"[green]Wrote[/] {', '.join(p.name for p in written)} to {out}", highlight=False)


def render_summary(result: AuditResult, top: int) -> None:
    summary = result.summary
    counts = Table(title="Issues", title_justify="left")
    counts.add_column("type")
    counts.add_column("count", justify="right")
    for kind, n in sorted(summary["issues"]["by_type"].items(), key=lambda kv: -kv[1]):
        counts.add_row(kind, f"{n:,}")
    console.print(counts)
    classes = Table(title="Issues per class, with cross-validated F1", title_justify="left")
    for column in ("class", "issues", "CV F1"):
        classes.add_column(column, justify="left" if column == "class" else "right")
    per_type = summary["cv_metrics"]["per_type"]
    for name, n in sorted(summary["issues"]["by_class"].items(), key=lambda kv: -kv[1]):
        f1 = per_type.get(name, {}).get("f1")
        classes.add_row(escape(name), f"{n:,}", f"{f1:.3f}" if f1 is not None else "")
    console.print(classes)
    issues = Table(title=f"Top {min(top, len(result.issues))} issues (lowest score = most suspicious)", title_justify="left")
    for column in ("id", "type", "score", "given", "suggested", "sentence"):
        issues.add_column(column, overflow="fold")
    for issue in result.issues[:top]:
        tokens = result.corpus.sentences[issue.index].tokens
        left = " ".join(tokens[max(0, issue.start - 6) : issue.start])
        right = " ".join(tokens[issue.end : issue.end + 6])
        context = f"{escape(left)} [bold red]{escape(issue.text)}[/] {escape(right)}"
        issues.add_row(issue.id, issue.type, f"{issue.score:.3f}", f"[red]{escape(issue.given)}[/]", f"[green]{escape(issue.suggested)}[/]", context)
    console.print(issues)
