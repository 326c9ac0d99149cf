"""`nerqa audit`: cross-validated label-issue detection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.auditing.folder import AUDIT_FOLDER_NAMES, CACHE_FOLDER, LOG_FILE, REPORT_FILE, check_same_corpus
from nerqa.auditing.issues import ISSUE_DESCRIPTIONS, describe_change
from nerqa.config import MODES, AuditSettings, fold_config
from nerqa.files import check_output_folder, claim_folder, removed_on_failure
from nerqa_cli.cluster import RayAddressOpt, WorkersOpt, ray_cluster
from nerqa_cli.console import console, err_console, next_step, prepare_models, user_errors
from nerqa_cli.progress import progress_display
from nerqa_cli.reading import STDIN, CorpusReader, ForceOpt, shown, with_reader
from nerqa_cli.training_options import TrainingOptions, with_training

if TYPE_CHECKING:
    from nerqa.auditing.crossval import FoldExecutor
    from nerqa.auditing.folder import AuditResult


DEFAULTS = AuditSettings()


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for the audit files (and the fold cache).")]
FoldsOpt = Annotated[
    Optional[int],
    typer.Option("--folds", "-k", help=f"Cross-validation folds, grouped by document [default: {DEFAULTS.k}]."),
]
ModeOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="|".join(MODES),
        help=f"How each fold is trained: one of the modes listed above [default: {DEFAULTS.mode}].",
    ),
]
TrainedOpt = Annotated[
    Optional[Path],
    typer.Option("--trained", help="Audit with this already trained model instead of cross-validation."),
]
ReferenceOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--reference",
        help="A trusted labeled corpus (read like CORPUS): in the training part of every fold, never "
        "audited itself. Audit a new batch with everything annotated so far behind the model.",
    ),
]
RepeatsOpt = Annotated[
    Optional[int],
    typer.Option(
        help="Cross-validate this many times over other fold splits and seeds and average the probabilities "
        f"(N times the time) [default: {DEFAULTS.repeats}]."
    ),
]
LevelOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="types|iob",
        help=f"Score entity types (B/I merged: types) or the IOB tags (iob); default {DEFAULTS.level}.",
    ),
]
FoldOpt = Annotated[
    Optional[int],
    typer.Option(
        "--fold",
        metavar="I",
        help="Compute and cache only fold I (0..k-1) in --out, for one job of a batch array (SLURM); then run "
        "the same command without --fold to read every fold and write the audit.",
    ),
]
ShowOpt = Annotated[int, typer.Option(min=0, help="Issues shown in the terminal (0: none).")]


@with_reader
@with_training(fold_config, "per fold")
def audit_cli(
    corpus: Annotated[
        list[Path],
        typer.Argument(
            help="Corpus to audit: a file, or several (train, dev and test) cross-validated together, each "
            "reported and written back on its own.",
            metavar="CORPUS...",
        ),
    ],
    out: OutOpt = Path("audit"),
    folds: FoldsOpt = None,
    mode: ModeOpt = None,
    trained: TrainedOpt = None,
    reference: ReferenceOpt = None,
    repeats: RepeatsOpt = None,
    level: LevelOpt = None,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    fold: FoldOpt = None,
    show: ShowOpt = 15,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
    training: TrainingOptions,
) -> None:
    with user_errors():
        # Every setting is checked before the corpus is read or a model loaded.
        settings = DEFAULTS.with_options(
            k=folds, mode=mode, level=level, repeats=repeats, training=training.settings(DEFAULTS.training)
        )
        if trained is not None:
            _note_unused(training, folds, mode, reference, repeats, workers, ray_address, fold)
        # Fails now, creating nothing; the folder is made once the input reads.
        check_output_folder(out, own=AUDIT_FOLDER_NAMES, force=force)
        data, parts = reader.read_parts(corpus)
        check_same_corpus(out, data)
        trusted = reader.read(reference) if reference is not None and trained is None else None
        prepare_models()
        from nerqa.auditing import audit, cross_validate, write_outputs
        from nerqa.auditing.parts import add_parts

        classifier = _trained_classifier(trained, data)  # checked before the audit folder is made
        with removed_on_failure(out, keep=_has_cached_folds):
            claim_folder(out, own=AUDIT_FOLDER_NAMES, force=force)
            with progress_display(out / LOG_FILE) as progress, fold_executor(workers, ray_address) as executor:
                where = {"cache_dir": out / CACHE_FOLDER, "reference": trusted, "executor": executor}
                if fold is not None and trained is None:
                    cross_validate(data, settings, folds=[fold], progress=progress, **where)
                    console.print(
                        f"[green]Cached[/] fold {fold} of {settings.k} in {out / CACHE_FOLDER}. Once every fold is "
                        "cached, run this command without --fold to write the audit.",
                        highlight=False,
                    )
                    return
                result = audit(data, settings, classifier=classifier, progress=progress, **where)
            add_parts(result, parts)
            # The corpus as the user named it, for the report's next step.
            # (Read from standard input, it has no name a later command can read again.)
            result.summary["corpus"]["path"] = "CORPUS" if STDIN in map(str, corpus) else shown(corpus)
            written = write_outputs(result, out)
    render_summary(result, show)
    console.print(
        f"[green]Wrote[/] {', '.join(p.name for p in written)} to {out}; the report to open: {out / REPORT_FILE}",
        highlight=False,
    )
    if result.issues:
        named = result.summary["corpus"]["path"]
        next_step(
            f"review the issues with nerqa relabel {named} {out}, or see what accepting the suggestions in bulk "
            f"would change with nerqa accept {named} {out} --dry-run"
        )


audit_cli.__doc__ = (
    "Find the labels most likely wrong: typed span issues, inconsistent and sparse forms.\n\n"
    "\b\nFold modes (--mode):\n"
    + "\n".join(f"  {name:9} {line}" for name, line in MODES.items())
    + "\n\n\b\nIssue types (review --type):\n"
    + "\n".join(f"  {name:13} {line}" for name, line in ISSUE_DESCRIPTIONS.items())
)


def _note_unused(training: TrainingOptions, folds, mode, reference, repeats, workers, ray_address, fold) -> None:
    """With `--trained` there is no cross-validation: say which options that leaves unused."""
    given = {
        "-k": folds,
        "--mode": mode,
        "--reference": reference,
        "--repeats": repeats,
        "--workers": workers,
        "--ray-address": ray_address,
        "--fold": fold,
    }
    unused = [flag for flag, value in given.items() if value is not None] + training.given()
    if unused:
        err_console.print(
            f"[yellow]Note:[/] {', '.join(unused)} not used with --trained (no cross-validation); not recorded.",
            highlight=False,
        )


def _has_cached_folds(out: Path) -> bool:
    """Whether a failed audit's new folder holds cached folds, which a re-run resumes from."""
    cache = out / CACHE_FOLDER
    return cache.is_dir() and any(cache.iterdir())


@contextlib.contextmanager
def fold_executor(workers: Optional[int], address: Optional[str]) -> Iterator[Optional[FoldExecutor]]:
    """Where the folds run: here, one after another (None) without --workers or --ray-address;
    otherwise as Ray tasks on a local Ray or on the cluster at the address."""
    with ray_cluster(workers, address) as cluster:
        if cluster is None:
            yield None
        else:
            from nerqa.auditing.ray_folds import RayFolds

            yield RayFolds(cluster)


def _trained_classifier(trained: Optional[Path], data):
    """The `--trained` model, checked to know every type of the corpus; None for cross-validation."""
    if trained is None:
        return None
    from nerqa.auditing import check_model_types
    from nerqa.models.classifier import load_classifier

    classifier = load_classifier(trained)
    check_model_types(data, classifier.tags, trained)
    err_console.print(
        "[yellow]Warning:[/] --trained predictions are not out-of-sample for the sentences that model was trained on."
    )
    return classifier


# Guideline questions the terminal summary names (the rest are in questions.jsonl and the report).
QUESTIONS_PRINTED = 5


def render_summary(result: AuditResult, show: int) -> None:
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
    if summary.get("parts"):
        console.print(parts_table(summary["parts"]))
    if "noise" in summary:
        from nerqa.auditing.noise import describe_noise

        console.print(describe_noise(summary["noise"]), highlight=False)
    if result.questions:
        console.print(
            f"Guideline questions: {len(result.questions):,} (groups of mentions that read like another type; "
            "questions.jsonl and the report; decide them in `nerqa relabel`, key g). The first:",
            highlight=False,
        )
        for question in result.questions[:QUESTIONS_PRINTED]:
            console.print(f"  {question.id}  {escape(question.describe())}", highlight=False)
    if show == 0:
        return
    console.print(issues_table(result, show, width=console.width))


def parts_table(parts: list[dict]) -> Table:
    """Per file of an audit of several: sentences, issues, sentences with an issue, CV F1."""
    table = Table(title="Per file", title_justify="left")
    for column in ("file", "sentences", "issues", "sentences with an issue", "CV F1"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for part in parts:
        f1 = part["cv_f1"]
        table.add_row(
            escape(part["name"]),
            f"{part['sentences']:,}",
            f"{part['issues']['total']:,}",
            f"{part['sentences_with_issues']:,}",
            "" if f1 is None else f"{f1:.3f}",
        )
    return table


def issues_table(result: AuditResult, show: int, *, width: int) -> Table:
    """The `show` most suspicious issues as a table that reads at `width` columns (80 and up): one line per issue
    at 80 (unless a span is long), the span whole in a column of its own; a few words of context
    from 110 columns, the issue id from 140 (both are in issues.jsonl and the report)."""
    table = Table(
        title=f"Top {min(show, len(result.issues))} issues (lowest score = most suspicious)",
        title_justify="left",
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("score", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("given → suggested", no_wrap=True, overflow="ellipsis", max_width=34)
    # The span is what the reviewer must see: it takes the room left and folds, never cut.
    table.add_column("span", overflow="fold", min_width=12, ratio=1, style="bold red")
    context, wide = width >= 110, width >= 140
    if context:
        table.add_column("in context", overflow="fold", ratio=1)
    if wide:
        table.add_column("id", no_wrap=True)
    for rank, issue in enumerate(result.issues[:show], start=1):
        tokens = result.corpus.sentences[issue.index].tokens
        left = " ".join(tokens[max(0, issue.start - 4) : issue.start])
        right = " ".join(tokens[issue.end : issue.end + 4])
        around = (
            f"{'… ' if issue.start > 4 else ''}{escape(left)} [bold red]{escape(issue.text)}[/] "
            f"{escape(right)}{' …' if issue.end + 4 < len(tokens) else ''}"
        )
        before, after = describe_change(issue, tokens)
        change = f"[red]{escape(before)}[/] → [green]{escape(after)}[/]"
        if issue.confidence is not None:
            change += f" {issue.confidence:.0%}"
        row = [str(rank), f"{issue.score:.3f}", issue.type, change, escape(issue.text)]
        table.add_row(*row, *([around.strip()] if context else []), *([issue.id] if wide else []))
    return table
