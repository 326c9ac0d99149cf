"""`nerqa relabel`: review an audit's issues (full-screen app), decide in bulk, export the
decisions, and exchange review tasks with annotation tools; `nerqa apply` writes the
corrected corpus."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.audit.issues import ISSUE_TYPES
from nerqa.config import check_choice
from nerqa.data.formats import FORMATS, write_corpus
from nerqa.errors import ConfigError, NerqaError
from nerqa.files import atomic_write_text
from nerqa.review.session import ORDERS
from nerqa.review.tasks import TOOLS
from nerqa_cli.util import (
    CorpusReader,
    check_format,
    console,
    err_console,
    existing_path,
    user_errors,
    with_reader,
)


def _names(values: Optional[list[str]]) -> frozenset[str]:
    return frozenset(v.strip() for value in values or [] for v in value.split(",") if v.strip())


@with_reader
def relabel_cli(
    corpus: Annotated[Path, typer.Argument(help="The corpus that was audited.")],
    audit_dir: Annotated[
        Path, typer.Argument(help="The audit folder (decisions are stored in it, in decisions.sqlite).")
    ],
    reviewer: Annotated[
        Optional[str], typer.Option(help="Your name in the decision log (default: $NERQA_REVIEWER or your login).")
    ] = None,
    issue_type: Annotated[
        Optional[list[str]],
        typer.Option("--type", help=f"Only these issue types ({', '.join(ISSUE_TYPES)}); repeat or comma-separate."),
    ] = None,
    entity_class: Annotated[
        Optional[list[str]], typer.Option("--class", help="Only issues of these entity classes.")
    ] = None,
    max_score: Annotated[
        Optional[float], typer.Option(help="Only issues scoring at most this (lower = more suspicious).")
    ] = None,
    accept_suggestions: Annotated[
        bool,
        typer.Option(
            "--accept-suggestions", help="No app: accept the suggestion of every undecided issue the filters admit."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --accept-suggestions: print what would change, record nothing.")
    ] = False,
    export_decisions: Annotated[
        Optional[Path], typer.Option(help="No app: write every decision (undo rows included) to this JSONL file.")
    ] = None,
    export_tasks: Annotated[
        Optional[Path], typer.Option(help="No app: write the filtered undecided issues as review tasks for --tool.")
    ] = None,
    import_results: Annotated[
        Optional[Path], typer.Option(help="No app: read --tool's exported results as decisions.")
    ] = None,
    import_decisions: Annotated[
        Optional[Path], typer.Option(help="No app: record the decisions of another copy's --export-decisions file.")
    ] = None,
    tool: Annotated[
        Optional[str],
        typer.Option(
            metavar="|".join(TOOLS).upper(),
            help="Annotation tool for --export-tasks (default labelstudio); --import-results reads it from the "
            f"file's shape. One of {', '.join(TOOLS)}.",
        ),
    ] = None,
    top: Annotated[
        Optional[int], typer.Option(help="With --export-tasks: at most this many issues, most suspicious first.")
    ] = None,
    order: Annotated[
        str,
        typer.Option(
            metavar="|".join(ORDERS),
            help="Queue order: score (most suspicious issue first) or uncertainty (sentences the model is least "
            "sure of first, as nerqa select ranks a pool).",
        ),
    ] = "score",
    *,
    reader: CorpusReader,
) -> None:
    """Review the audit's issues, most suspicious first, in a full-screen terminal app. Every
    decision is saved in AUDIT_DIR/decisions.sqlite the moment you make it; run again to resume."""
    with user_errors():
        unknown = sorted(_names(issue_type) - set(ISSUE_TYPES))
        if unknown:
            raise ConfigError(f"--type: unknown issue types {', '.join(unknown)}; types are {', '.join(ISSUE_TYPES)}")
        check_choice("--order", order, ORDERS)
        if tool is not None and tool not in TOOLS:
            raise ConfigError(f"--tool must be one of {', '.join(TOOLS)}, not {tool!r}")
        modes = [
            name
            for name, on in (
                ("--accept-suggestions", accept_suggestions),
                ("--export-decisions", export_decisions),
                ("--export-tasks", export_tasks),
                ("--import-results", import_results),
                ("--import-decisions", import_decisions),
            )
            if on
        ]
        if len(modes) > 1:
            raise ConfigError(f"choose one of {', '.join(modes)}")
        if dry_run and not accept_suggestions:
            raise ConfigError("--dry-run goes with --accept-suggestions")
        from nerqa.audit.folder import load_audit
        from nerqa.review.decisions import DecisionStore, default_reviewer
        from nerqa.review.session import Filters, ReviewSession

        filters = Filters(_names(issue_type), _names(entity_class), max_score)
        name = reviewer or default_reviewer()
        if export_decisions is not None:
            with DecisionStore.open(existing_path(audit_dir), read_only=True) as store:
                rows = store.all()
            atomic_write_text(
                export_decisions, "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in rows)
            )
            console.print(
                f"[green]Wrote[/] {len(rows):,} decisions to {escape(str(export_decisions))}", highlight=False
            )
            return
        result = load_audit(existing_path(audit_dir), reader.read(corpus))
        known = sorted({t for i in result.issues for t in (i.given, i.suggested)} - {"O"})
        unknown = sorted(filters.classes - set(known))
        if unknown:
            raise ConfigError(
                f"--class: no issue has the class {', '.join(unknown)}; classes are {', '.join(known) or 'none'}"
            )
        if export_tasks is not None:
            from nerqa.review.tasks import export_tasks as export

            # Read-only: exporting tasks records nothing (and works on a read-only audit folder).
            with DecisionStore.open_or_empty(audit_dir) as store:
                session = ReviewSession(result, store, name, filters=filters, order=order)
                issues = session.queue()[:top]
                text = export(session, issues, tool or "labelstudio")
            atomic_write_text(export_tasks, text)
            console.print(
                f"[green]Wrote[/] {len(issues):,} review tasks for {tool or 'labelstudio'} to "
                f"{escape(str(export_tasks))}",
                highlight=False,
            )
            return
        store = DecisionStore.open(audit_dir)
        try:
            session = ReviewSession(result, store, name, filters=filters, order=order)
            if import_results is not None:
                from nerqa.review.tasks import import_results as read_results

                decisions = read_results(session, existing_path(import_results), tool, reviewer=reviewer)
                render_import(
                    store.record_new(decisions),
                    import_results,
                    decisions[0].source.split(":", 1)[1] if decisions else tool,
                )
                return
            if import_decisions is not None:
                from nerqa.review.tasks import import_decision_log

                render_import(
                    store.record_new(import_decision_log(session, existing_path(import_decisions))),
                    import_decisions,
                    None,
                )
                return
            if accept_suggestions:
                planned = session.bulk_accept(filters, dry_run=dry_run)
                render_bulk(session, planned, dry_run)
                return
            if not session.issues:
                raise NerqaError(f"no issue in {audit_dir} matches the filter ({filters.describe()})")
            from nerqa_cli.review_app import ReviewApp

            app = ReviewApp(session, crash_log=Path(audit_dir) / "relabel-errors.log")
            app.run()
            counts = session.counts()
            if app.crash is not None or app.return_code:
                n = len(store.all())
                where = f"; the details are in {app.crash_log}" if app.crash_log is not None else ""
                raise NerqaError(
                    f"the review app stopped on an unexpected error ({type(app.crash).__name__}: {app.crash}); "
                    f"all {n:,} decisions recorded are saved in {store.path}{where}"
                )
        finally:
            store.close()
    decided = sum(counts[a] for a in ("accept", "keep", "edit"))
    disputed = f", {counts['disagreement']:,} in disagreement" if counts["disagreement"] else ""
    console.print(
        f"{decided:,} of {sum(counts.values()):,} issues decided, {counts['skip']:,} skipped{disputed}; "
        f"decisions are in {escape(str(store.path))}. "
        f"Next: nerqa apply {escape(str(corpus))} {escape(str(audit_dir))} --out CORRECTED",
        highlight=False,
    )


def render_import(outcome: tuple[list, int], path: Path, tool: Optional[str]) -> None:
    recorded, known = outcome
    source = f" ({tool})" if tool else ""
    actions = Counter(d.action for d in recorded)
    kinds = f": {', '.join(f'{a} {n:,}' for a, n in sorted(actions.items()))}" if recorded else ""
    untouched = " (a skip is a task nobody touched)" if actions["skip"] and tool else ""
    again = f"; {known:,} were recorded by an earlier import and are not recorded again" if known else ""
    console.print(
        f"[green]Recorded[/] {len(recorded):,} new decisions from {escape(str(path))}{source}{kinds}{untouched}{again}",
        highlight=False,
    )


def render_bulk(session, planned, dry_run: bool) -> None:
    corpus = session.result.corpus
    table = Table(
        title=("Would accept" if dry_run else "Accepted") + f" {len(planned):,} suggestions", title_justify="left"
    )
    for column in ("issue", "sentence", "before", "after"):
        table.add_column(column, overflow="fold")
    for d in planned:
        tokens = corpus.sentences[d.index].tokens
        show = lambda spans: "; ".join(f"{' '.join(tokens[s.start : s.end])} {s.label}" for s in spans) or "-"  # noqa: E731
        issue = session.issue(d.issue_id)
        table.add_row(
            escape(f"{issue.type} {issue.text!r}" if issue else "propagated"),
            str(d.index),
            escape(show(d.removed)),
            escape(show(d.added)),
        )
    console.print(table)
    if dry_run:
        err_console.print("Dry run: nothing was recorded.")


@with_reader
def apply_cli(
    corpus: Annotated[Path, typer.Argument(help="The corpus that was audited (it is never modified).")],
    audit_dir: Annotated[Path, typer.Argument(help="The audit folder holding decisions.sqlite.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The corrected corpus to write.")],
    to: Annotated[
        Optional[str],
        typer.Option(
            "--to",
            "-t",
            metavar="FORMAT",
            help=f"Output format ({', '.join(FORMATS)}); implied by --out's name if omitted.",
            callback=check_format,
        ),
    ] = None,
    resolve: Annotated[
        Optional[str],
        typer.Option(
            metavar="latest|REVIEWER",
            help="Settle reviewers' disagreements: the latest decision, or this reviewer's (default: leave them "
            "unapplied and list them).",
        ),
    ] = None,
    changed_corpus: Annotated[
        bool,
        typer.Option(
            "--changed-corpus",
            help="The corpus was edited since the audit: find each decision's sentence by its content instead "
            "of refusing.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Write the corpus with the review's decisions applied, and say what changed per type."""
    with user_errors():
        from nerqa.audit.folder import check_audit_corpus
        from nerqa.review.apply import apply_decisions
        from nerqa.review.decisions import DecisionStore

        if out.resolve() == existing_path(corpus).resolve():
            raise NerqaError(f"{out}: that is the corpus itself; the original is never modified, choose another --out")
        data = reader.read(corpus)
        if not changed_corpus:
            check_audit_corpus(
                existing_path(audit_dir),
                data,
                hint="; if you edited it since, add --changed-corpus to replay the decisions by content",
            )
        with DecisionStore.open(existing_path(audit_dir), read_only=True) as store:
            standing = store.standing(resolve=resolve)
        result = apply_decisions(data, standing.in_force)
        if changed_corpus and standing.in_force:
            found = len(standing.in_force) - sum("not in this corpus" in c.reason for c in result.conflicts)
            if found == 0:
                raise NerqaError(
                    f"{corpus}: none of the {len(standing.in_force):,} decisions found its sentence in this "
                    "corpus; nothing was written"
                )
        written = write_corpus(result.corpus, out, to, options=reader.options)
    summary = result.summary()
    summary["disagreements"] = len(standing.disagreements)
    if changed_corpus:
        summary["sentences_found"] = len(standing.in_force) - sum(
            "not in this corpus" in c.reason for c in result.conflicts
        )
    disagreements = [
        {
            "issue": issue_id,
            "sides": [{"reviewer": d.reviewer, "action": d.action, "seq": d.seq} for d in each.decisions],
        }
        for issue_id, each in standing.disagreements.items()
    ]
    if as_json:
        console.print_json(
            json.dumps(
                {
                    **summary,
                    "written": [str(p) for p in written],
                    "conflict_details": [
                        {
                            "issue_id": c.decision.issue_id,
                            "seq": c.decision.seq,
                            "reviewer": c.decision.reviewer,
                            "reason": c.reason,
                        }
                        for c in result.conflicts
                    ],
                    "disagreement_details": disagreements,
                }
            )
        )
        return
    table = Table(
        title=f"Applied {summary['decisions_applied']:,} decisions: {summary['sentences_changed']:,} sentences changed",
        title_justify="left",
    )
    for column in ("type", "changed", "added", "removed"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, row in summary["spans"].items():
        table.add_row(escape(name), *(f"{row[k]:,}" for k in ("changed", "added", "removed")))
    table.add_section()
    table.add_row("[bold]total[/]", *(f"{summary['total'][k]:,}" for k in ("changed", "added", "removed")))
    console.print(table)
    if changed_corpus:
        console.print(
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
        err_console.print(
            "[yellow]Disagreement, not applied:[/] "
            f"{escape(_describe(issues, issue_id, each.decisions[0].index))}: {sides}",
            highlight=False,
        )
    if standing.disagreements:
        err_console.print(
            f"{len(standing.disagreements):,} disagreements: decide them again in nerqa relabel (status filter "
            "'disagreement'), "
            "or choose with --resolve latest|REVIEWER.",
            highlight=False,
        )
    console.print(f"[green]Wrote[/] {', '.join(escape(str(p)) for p in written)}", highlight=False)


def _issue_records(audit_dir: Path) -> list[dict]:
    from nerqa.audit.folder import load_issue_records

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
