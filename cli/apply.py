"""`nerqa apply`: the corpus with the review's decisions applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nerqa.data.formats import check_output, detect_format, format_for_output, write_corpus, write_splits
from nerqa.data.formats.parts import write_parts
from nerqa.data.parts import split
from nerqa.errors import NerqaError
from nerqa.files import check_output_folder, is_stdout
from nerqa_cli.console import (
    console,
    counted,
    err_console,
    existing_path,
    next_step,
    output,
    status_console,
    user_errors,
)
from nerqa_cli.reading import (
    STDIN,
    CorpusForceOpt,
    CorpusReader,
    OutputFormatOpt,
    note_lost_columns,
    shown,
    with_reader,
)
from nerqa_cli.review_options import AuditDirArg, AuditedCorpusArg

ResolveOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="latest|REVIEWER",
        help="Settle reviewers' disagreements: the latest decision, or this reviewer's [default: leave them "
        "unapplied and list them].",
    ),
]
ChangedCorpusOpt = Annotated[
    bool,
    typer.Option(
        "--changed-corpus",
        help="The corpus was edited since the audit: find each decision's sentence by its content instead of refusing.",
    ),
]


@with_reader
def apply_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="The corrected corpus to write (in the corpus's format unless --to); for an audit of several files, "
            "a folder that gets each under its own name.",
        ),
    ],
    to: OutputFormatOpt = None,
    resolve: ResolveOpt = None,
    changed_corpus: ChangedCorpusOpt = False,
    auto: Annotated[
        bool,
        typer.Option(
            "--auto/--no-auto",
            help="Apply the automatic fixes (nerqa autofix) beside the people's decisions, or leave them out.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    force: CorpusForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Write the corpus with the review's decisions applied, and say what changed per type.

    An audit of several files writes each back under its own name into the folder --out."""
    with user_errors():
        how = {"resolve": resolve, "changed_corpus": changed_corpus, "automatic": auto}
        if len(corpus) > 1:
            standing, result, written = _apply_parts(corpus, audit_dir, out, to, force, reader, how)
        else:
            standing, result, written = _apply_one(corpus[0], audit_dir, out, to, force, reader, how)
    summary = {**result.summary(), "disagreements": len(standing.disagreements)}
    if changed_corpus:
        summary["sentences_found"] = len(standing.in_force) - result.missing
    if as_json:
        status_console(out).print_json(json.dumps(as_record(summary, written, result, standing)))
        return
    render(summary, standing, result, audit_dir, status_console(out))
    status_console(out).print(f"[green]Wrote[/] {', '.join(escape(str(p)) for p in written)}", highlight=False)
    if not is_stdout(out):
        next_step(
            f"train on it (nerqa train {out} --dev DEV --out model-after) and compare it with a model trained on "
            f"{shown(corpus)} (nerqa compare models model-before model-after TEST)",
            out,
        )


def _apply_one(corpus: Path, audit_dir: Path, out: Path, to, force: bool, reader: CorpusReader, how: dict):
    """One corpus in, one corpus out (a DatasetDict of splits: a DatasetDict); `how`:
    `apply_audit_decisions`'s options."""
    # The corrected corpus keeps the corpus's own format unless --to or --out's name says otherwise.
    piped = str(corpus) == STDIN
    to = to or format_for_output(out) or reader.format or (None if piped else detect_format(existing_path(corpus)))
    check_output(output(out), to, force=force)
    if not (is_stdout(out) or piped) and out.resolve() == existing_path(corpus).resolve():
        raise NerqaError(f"{out}: that is the corpus itself; the original is never modified, choose another --out")
    from nerqa.review.apply import apply_audit_decisions

    data, parts = reader.read_parts([corpus])
    standing, result = apply_audit_decisions(data, existing_path(audit_dir), **how)
    note_lost_columns(result.corpus, to)
    if len(parts) > 1:  # a DatasetDict's splits, audited together, written back as one
        written = write_splits(split(result.corpus, parts), output(out), to, options=reader.options, force=force)
    else:
        written = write_corpus(result.corpus, output(out), to, options=reader.options, force=force)
    return standing, result, written


def _apply_parts(corpus: list[Path], audit_dir: Path, out: Path, to, force: bool, reader: CorpusReader, how: dict):
    """Several files in, each written back under its name into the folder `out`, in its own
    format (or --to's)."""
    if is_stdout(out):
        raise NerqaError("-: an audit of several files is written to a folder, one file each; name it with --out")
    for path in corpus:
        if existing_path(path).resolve() == (out / path.name).resolve():
            raise NerqaError(f"{out}: it holds {path.name}, an audited file; the originals are never modified")
    check_output_folder(out, force=force)
    formats = {path.name: to or reader.format or detect_format(path) for path in corpus}
    from nerqa.review.apply import apply_audit_decisions

    data, parts = reader.read_parts(corpus)
    standing, result = apply_audit_decisions(data, existing_path(audit_dir), **how)
    pieces = split(result.corpus, parts)
    for name, piece in pieces.items():
        note_lost_columns(piece, formats[name])
    written = write_parts(pieces, out, formats, options=reader.options, force=force)
    return standing, result, written


def as_record(summary: dict, written, result, standing) -> dict:
    """`--json`: the summary, the files written, and each conflict and disagreement."""
    conflicts = [
        {"issue_id": c.decision.issue_id, "seq": c.decision.seq, "reviewer": c.decision.reviewer, "reason": c.reason}
        for c in result.conflicts
    ]
    disagreements = [
        {
            "issue": issue_id,
            "sides": [{"reviewer": d.reviewer, "action": d.action, "seq": d.seq} for d in each.decisions],
        }
        for issue_id, each in standing.disagreements.items()
    ]
    return {
        **summary,
        "written": [str(p) for p in written],
        "conflict_details": conflicts,
        "disagreement_details": disagreements,
    }


def render(summary: dict, standing, result, audit_dir: Path, out: Console = console) -> None:
    """The per-type table, then every decision not applied (conflicts and disagreements), by issue."""
    automatic = summary.get("automatic_fixes_applied", 0)
    title = (
        f"Applied {counted(summary['decisions_applied'], 'decision')}"
        + (
            f" ({automatic:,} of them automatic fixes from nerqa autofix; --no-auto leaves those out)"
            if automatic
            else ""
        )
        + f": {counted(summary['sentences_changed'], 'sentence')} changed"
    )
    table = Table(title=title, title_justify="left")
    for column in ("type", "changed", "added", "removed"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, row in summary["spans"].items():
        table.add_row(escape(name), *(f"{row[k]:,}" for k in ("changed", "added", "removed")))
    table.add_section()
    table.add_row("[bold]total[/]", *(f"{summary['total'][k]:,}" for k in ("changed", "added", "removed")))
    out.print(table)
    if "sentences_found" in summary:
        out.print(
            f"{summary['sentences_found']:,} of {len(standing.in_force):,} decisions found their sentence in the "
            "edited corpus.",
            highlight=False,
        )
    issues = {i["id"]: i for i in _issue_records(audit_dir)}
    for conflict in result.conflicts:
        d = conflict.decision
        err_console.print(
            f"[yellow]Not applied:[/] {d.action} by {escape(d.reviewer)} on "
            f"{escape(_describe(issues, d.issue_id, d.index))} (decision #{d.seq}): {escape(conflict.reason)}",
            highlight=False,
        )
    for issue_id, each in standing.disagreements.items():
        sides = "; ".join(f"{escape(d.reviewer)} {d.action} (#{d.seq})" for d in each.decisions)
        where = escape(_describe(issues, issue_id, each.decisions[0].index))
        err_console.print(f"[yellow]Disagreement, not applied:[/] {where}: {sides}", highlight=False)
    if standing.disagreements:
        err_console.print(
            f"{counted(len(standing.disagreements), 'disagreement')}: decide them again in nerqa relabel "
            "(status filter 'disagreement'), or choose with --resolve latest|REVIEWER.",
            highlight=False,
        )


def _issue_records(audit_dir: Path) -> list[dict]:
    from nerqa.auditing.folder import load_issue_records

    try:
        return load_issue_records(audit_dir)
    except NerqaError:
        return []


def _describe(issues: dict[str, dict], issue_id: str, index: Optional[int]) -> str:
    """An issue as a reviewer knows it (type and words), not by its internal id."""
    issue = issues.get(issue_id)
    if issue is None:
        return f"a propagated change in sentence {index}"
    return f"{issue.get('type')} {issue.get('text')!r} in sentence {issue.get('index')}"
