"""The review app's linked mentions and their preview.

The review app's linked mentions: what a decision is offered for, and the preview (`p`) that
extends it to the mentions the reviewer keeps checked (`nerqa.review.linking`)."""

from __future__ import annotations

from rich.text import Text

from nerqa.review.decisions import Decision
from nerqa.review.session import ReviewSession
from nerqa_cli.review_screens import LinkedScreen, render_spans


def linked_offer(session: ReviewSession, decision: Decision) -> tuple[list, str]:
    """The mentions a just-saved decision links to (`Occurrence`s after a change, `Issue`s after
    a keep) and the note that offers them (empty when there are none)."""
    issue = session.issue(decision.issue_id)
    linked: list = session.propagation(decision) if decision.changes else []
    if not decision.changes and decision.action == "keep" and issue is not None:
        linked = session.same_issues(issue)
    if not linked:
        return [], ""
    tokens = session.result.corpus.sentences[decision.index].tokens
    if decision.changes:
        changed = (*decision.removed, *decision.added)
        words = " ".join(tokens[min(s.start for s in changed) : max(s.end for s in changed)])
    else:
        words = issue.text
    return (
        linked,
        f" {len(linked)} other mentions of {words!r} read as this one did: p to preview them and extend the decision.",
    )


def preview_linked(app, decision: Decision, linked: list) -> None:
    """Open the preview of `decision` on its `linked` mentions in `app` (the `ReviewApp`); enter
    records the extension to the checked ones."""
    session = app.session
    corpus = session.result.corpus

    def line(index: int, spans) -> Text:
        text = Text(f"s. {index}: ", style="dim")
        text.append_text(render_spans(corpus.sentences[index].tokens, spans, app.types))
        return text

    if decision.changes:
        rows = [line(o.index, o.after) for o in linked]
        title = f"Extend '{app.describe_decision(decision)}' to these {len(rows)} mentions (shown as it leaves them)"
    else:
        rows = [line(i.index, session.spans(i.index)) for i in linked]
        title = f"Keep the labels at these {len(rows)} mentions too (shown as they stay)"

    def extend(checked: tuple[int, ...] | None) -> None:
        if checked is None:
            app.say("Not extended: the linked mentions stay as they are.")
            return
        chosen = [linked[i] for i in checked]
        recorded = session.propagate(decision, chosen) if decision.changes else session.keep_all(chosen)
        app.offer = None
        app.redraw()
        left = len(linked) - len(chosen)
        app.say(
            f"Saved: the decision extended to {len(recorded)} linked mentions"
            + (f", {left} left out" if left else "")
            + " (u undoes the extension as one)."
        )

    app.push_screen(LinkedScreen(title, rows), extend)
