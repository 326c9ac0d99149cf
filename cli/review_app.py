"""The full-screen review app of `nerqa relabel` (Textual).

It only renders a `nerqa.review.session.ReviewSession` and turns keys into its calls; every
decision is stored by the session (one committed SQLite transaction) before the screen says
it is saved. Screens: the review screen, the span editor, the same-form list, the filter form,
the decision history and the help.

An unexpected error ends the app with return code 1 and its traceback in `crash_log` (not on
the screen); the command then says where the decisions are, every one of them saved.
"""

from __future__ import annotations

import traceback
from collections import Counter
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from nerqa.auditing.issues import Issue, describe_change
from nerqa.data.tags import OUTSIDE, Span
from nerqa.review.decisions import AUTO_SOURCE, Decision
from nerqa.review.session import Filters, ReviewSession
from nerqa.review.spans import Occurrence
from nerqa_cli.review_linked import linked_offer, preview_linked
from nerqa_cli.review_screens import (
    EditScreen,
    FilterScreen,
    FormsScreen,
    HelpScreen,
    HistoryScreen,
    QuestionScreen,
    render_spans,
)


class ReviewApp(App):
    """Review an audit's issues, most suspicious first; see `HELP` for the keys."""

    TITLE = "nerqa relabel"
    CSS = """
    Screen { layout: vertical; }
    #progress { background: $boost; padding: 0 1; height: 1; }
    #issue { padding: 1 1 0 1; height: auto; }
    #sentence { padding: 1 1; height: auto; border: round $primary; }
    #context { padding: 0 1; height: auto; color: $text-muted; }
    #forms-summary { padding: 0 1; height: auto; }
    #message { padding: 0 1; height: auto; color: $success; }
    HelpScreen, FormsScreen, FilterScreen, EditScreen, HistoryScreen, QuestionScreen, LinkedScreen {
        align: center middle;
    }
    #help, #forms, #filter, #editor, #history, #question, #linked {
        width: 90%; height: auto; max-height: 90%; border: round $accent; background: $panel; padding: 1 2;
    }
    #members { height: auto; max-height: 16; margin: 1 0; }
    """
    # The footer shows the decision keys, help and quit (they fit 80 columns); the rest are in `?`.
    BINDINGS = [
        Binding("a", "decide('accept')", "Accept"),
        Binding("k", "decide('keep')", "Keep"),
        Binding("e", "edit", "Edit"),
        Binding("s", "decide('skip')", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("p", "propagate", "Propagate", show=False),
        Binding("c", "context", "Context", show=False),
        Binding("f", "forms", "Same form", show=False),
        Binding("slash", "filter", "Filter", show=False),
        Binding("b", "back", "Back", show=False),
        Binding("h", "history", "History", show=False),
        Binding("g", "questions", "Questions", show=False),
    ]

    def __init__(self, session: ReviewSession, *, crash_log: Path | None = None) -> None:
        super().__init__()
        self.session = session
        self.crash_log = crash_log
        self.crash: BaseException | None = None
        # The corpus's types and the model's (a suggestion may name a type the corpus lacks).
        model_types = {t.split("-", 1)[1] for t in session.result.tags if t != OUTSIDE and "-" in t}
        self.types = sorted(set(session.result.corpus.entity_types) | model_types)
        self.current: Issue | None = None
        # `b` steps back through the issues this reviewer decided, earlier sessions included.
        self.history: list[Issue] = self._decided_before()
        self.show_context = False
        # The last decision and its linked mentions (`Occurrence`s for a change, `Issue`s for a keep).
        self.offer: tuple[Decision, list[Occurrence] | list[Issue]] | None = None

    def _decided_before(self) -> list[Issue]:
        seen: dict[str, Issue] = {}
        for d in self.session.rows:
            issue = self.session.issue(d.issue_id)
            if d.reviewer == self.session.reviewer and d.action != "undo" and issue is not None:
                seen.pop(issue.id, None)
                seen[issue.id] = issue
        return list(seen.values())

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error: the traceback goes to `crash_log`, the app ends with code 1
        (Textual would print the traceback over the terminal). Under Pilot it is raised."""
        self.crash = error
        if self.crash_log is not None:
            try:
                with self.crash_log.open("a", encoding="utf-8") as log:
                    log.write("".join(traceback.format_exception(error)))
            except OSError:
                self.crash_log = None
        if self.is_headless:
            super()._handle_exception(error)
            return
        self.exit(return_code=1)

    def describe(self, issue_id: str) -> str:
        """An issue as a reviewer knows it: its type, words and labels (not its internal id)."""
        issue = self.session.issue(issue_id)
        if issue is None:
            return "a guideline question's relabel" if issue_id.startswith("qu-") else "a propagated change"
        start = issue.suggested_start if issue.suggested_start is not None else issue.start
        end = issue.suggested_end if issue.suggested_end is not None else issue.end
        if (start, end) != (issue.start, issue.end):
            words = " ".join(self.session.result.corpus.sentences[issue.index].tokens[start:end])
            return f"{issue.type} {issue.text!r} → {words!r} {issue.suggested}"
        return f"{issue.type} {issue.text!r} ({issue.given} → {issue.suggested})"

    def describe_decision(self, decision: Decision) -> str:
        """What a decision did to its sentence, in the reviewer's words: the spans it took away
        and put in (`edit: 'Marfan syndrome' DiseaseClass → SpecificDisease`), or that it kept
        the given labels or put the issue off."""
        tokens = self.session.result.corpus.sentences[decision.index].tokens

        def spans(found) -> str:
            return ", ".join(f"{' '.join(tokens[s.start : s.end])!r} {s.label}" for s in found)

        removed, added = decision.removed, decision.added
        if decision.action == "skip":
            return f"skip {self.describe(decision.issue_id)}: left for later"
        if not removed and not added:
            issue = self.session.issue(decision.issue_id)
            what = f"{issue.text!r} as given ({issue.given})" if issue is not None else "the given labels"
            return f"{decision.action}: {what}, no change"
        if (
            len(removed) == 1
            and len(added) == 1
            and (removed[0].start, removed[0].end) == (added[0].start, added[0].end)
        ):
            words = " ".join(tokens[added[0].start : added[0].end])
            return f"{decision.action}: {words!r} {removed[0].label} → {added[0].label}"
        before = spans(removed) or "nothing"
        after = spans(added) or "O"
        return f"{decision.action}: {before} → {after}"

    def compose(self) -> ComposeResult:
        yield Static(id="progress")
        yield Static(id="issue")
        yield Static(id="sentence")
        yield Static(id="context")
        yield Static(id="forms-summary")
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        queue = self.session.queue()
        self.current = queue[0] if queue else None
        self.redraw()

    # --- drawing ------------------------------------------------------------------------------

    def progress_text(self) -> str:
        counts = self.session.counts()
        total = sum(counts.values())
        decided = sum(counts[a] for a in ("accept", "keep", "edit"))
        position = f"Issue {min(decided + 1, total)} of {total}" if self.current else f"All {total} issues decided"
        eta = self.session.eta_seconds()
        pace = "" if eta is None else f" · about {int(eta // 60)} min {int(eta % 60)} s left at your pace"
        disputed = f" · disagreements {counts['disagreement']}" if counts["disagreement"] else ""
        if counts["auto"]:
            disputed += f" · auto-fixed, unchecked {counts['auto']}"
        return (
            f"{position} · decided {decided} (accepted {counts['accept']}, kept {counts['keep']}, edited "
            f"{counts['edit']})"
            f" · skipped {counts['skip']}{disputed}{pace} · filter: {self.session.filters.describe()} · reviewer "
            f"{self.session.reviewer}"
        )

    def redraw(self) -> None:
        self.query_one("#progress", Static).update(Text(self.progress_text()))
        issue = self.current
        if issue is None:
            self.query_one("#issue", Static).update(
                Text(
                    "Nothing left to review with this filter. Press / to change it, q to quit; then run `nerqa apply`."
                )
            )
            for widget in ("#sentence", "#context", "#forms-summary"):
                self.query_one(widget, Static).update("")
            return
        sentence = self.session.result.corpus.sentences[issue.index]
        status = self.session.status(issue)
        head = Text()
        head.append(f"{issue.type}", style="bold")
        document = f" of document {issue.doc_id}" if issue.doc_id is not None else ""
        head.append(f"  score {issue.score:.3f}  sentence {issue.index}{document}  ")
        before, after = describe_change(issue, sentence.tokens)
        head.append(f"{before} → {after}", style="bold")
        if issue.confidence is not None:
            head.append(f"  (the model reads it so at {issue.confidence:.0%})")
        disagreement = self.session.disagreement(issue)
        if disagreement is not None:
            sides = ", ".join(f"{d.reviewer} {d.action}" for d in disagreement.decisions)
            head.append(f"  [disagreement: {sides}; deciding resolves it]", style="bold yellow")
        elif status:
            by = self.session.latest[issue.id].reviewer
            head.append(f"  [{status}{'' if by == self.session.reviewer else ' by ' + by}]", style="yellow")
        head.append(f"\n{issue.reason}", style="italic")
        self.query_one("#issue", Static).update(head)
        now, suggested = self.session.spans(issue.index), self.session.suggestion(issue)
        disputed = {t for s in set(now) ^ set(suggested) for t in range(s.start, s.end)}
        block = Text("given      ", style="dim")
        block.append_text(render_spans(sentence.tokens, now, self.types, disputed=disputed))
        block.append("\nsuggested  ", style="dim")
        block.append_text(render_spans(sentence.tokens, suggested, self.types, disputed=disputed))
        self.query_one("#sentence", Static).update(block)
        self.query_one("#context", Static).update(self.context_text(issue) if self.show_context else "")
        self.query_one("#forms-summary", Static).update(self.forms_text(issue))

    def context_text(self, issue: Issue) -> Text:
        corpus = self.session.result.corpus
        doc_index = corpus.sentence_doc_index
        text = Text()
        for other, label in ((issue.index - 1, "before"), (issue.index + 1, "after")):
            if 0 <= other < len(corpus) and doc_index[other] == doc_index[issue.index]:
                text.append(f"{label:<10} ", style="dim")
                text.append_text(render_spans(corpus.sentences[other].tokens, self.session.spans(other), self.types))
                text.append("\n")
        return text or Text("(no neighbouring sentence in this document)")

    def forms_text(self, issue: Issue) -> Text:
        tokens = self.session.result.corpus.sentences[issue.index].tokens[issue.start : issue.end]
        readings = [r for r in self.session.readings(tokens) if (r.index, r.start) != (issue.index, issue.start)]
        if not readings:
            return Text(f"{' '.join(tokens)!r} occurs nowhere else in the corpus", style="dim")
        counts = Counter(r.label for r in readings)
        return Text(
            f"{' '.join(tokens)!r} elsewhere: "
            + ", ".join(f"{label} {n}" for label, n in counts.most_common())
            + "  (f: list)",
            style="dim",
        )

    def say(self, message: str) -> None:
        self.query_one("#message", Static).update(Text(message))

    # --- actions ------------------------------------------------------------------------------

    def advance(self) -> None:
        queue = [i for i in self.session.queue() if i != self.current] or self.session.queue()
        if self.current is not None:
            self.history.append(self.current)
        self.current = queue[0] if queue else None
        self.redraw()

    def saved(self, decision: Decision) -> None:
        linked, note = linked_offer(self.session, decision)
        self.offer = (decision, linked) if linked else None
        self.say(f"Saved: {self.describe_decision(decision)} (#{decision.seq})." + note)

    def action_decide(self, action: str) -> None:
        if self.current is None:
            return
        decision = self.session.decide(self.current, action)  # type: ignore[arg-type]
        self.advance()
        self.saved(decision)

    def action_edit(self) -> None:
        if self.current is None:
            return
        issue = self.current
        sentence = self.session.result.corpus.sentences[issue.index]
        default = issue.suggested if issue.suggested != OUTSIDE else issue.given

        def done(spans: tuple[Span, ...] | None) -> None:
            if spans is None:
                self.say("Edit cancelled.")
                return
            decision = self.session.decide(issue, "edit", spans)
            self.advance()
            self.saved(decision)

        self.push_screen(
            EditScreen(sentence.tokens, self.session.spans(issue.index), self.types, issue.start, default), done
        )

    def action_undo(self) -> None:
        undone = self.session.undo()
        if not undone:
            self.say("Nothing of yours to undo.")
            return
        self.offer = None
        target = next((i for i in self.session.result.issues if i.id == undone[0].issue_id), None)
        if target is not None:
            self.current = target
        self.redraw()
        self.say(
            f"Undone: {undone[0].action} {self.describe(undone[0].issue_id)}"
            + (f" and {len(undone) - 1} more" if len(undone) > 1 else "")
            + " (saved)."
        )

    def action_propagate(self) -> None:
        if self.offer is None:
            self.say("No linked mentions to extend a decision to: decide an issue first.")
            return
        preview_linked(self, *self.offer)

    def action_context(self) -> None:
        self.show_context = not self.show_context
        self.redraw()

    def action_forms(self) -> None:
        if self.current is None:
            return
        issue = self.current
        corpus = self.session.result.corpus
        tokens = corpus.sentences[issue.index].tokens[issue.start : issue.end]
        options = []
        for r in self.session.readings(tokens):
            words = corpus.sentences[r.index].tokens
            snippet = " ".join(words[max(0, r.start - 5) : r.start + len(tokens) + 5])
            options.append(
                (
                    r.index,
                    f"{r.label:<12} sentence {r.index:>5} (document {corpus.sentence_doc_ids[r.index]}): {snippet}",
                )
            )

        def jump(index: int | None) -> None:
            if index is None:
                return
            there = [i for i in self.session.result.issues if i.index == index and self.session.filters.admits(i)]
            if not there:
                self.say(f"Sentence {index} has no issue under this filter.")
                return
            if self.current is not None:
                self.history.append(self.current)
            self.current = there[0]
            self.redraw()

        self.push_screen(
            FormsScreen(f"{' '.join(tokens)!r}: {len(options)} occurrences (enter jumps to an issue there)", options),
            jump,
        )

    def action_filter(self) -> None:
        def apply(filters: Filters | None) -> None:
            if filters is None:
                return
            self.session.filters = filters
            queue = self.session.queue()
            self.current = queue[0] if queue else None
            self.redraw()
            self.say(f"Filter: {filters.describe()} ({len(self.session.issues)} issues).")

        classes = sorted(
            {i.given for i in self.session.result.issues}
            | {i.suggested for i in self.session.result.issues} - {OUTSIDE}
        )
        self.push_screen(
            FilterScreen(self.session.filters, sorted({i.type for i in self.session.result.issues}), classes), apply
        )

    def action_back(self) -> None:
        while self.history and self.history[-1] == self.current:
            self.history.pop()
        if not self.history:
            self.say("No issue decided before this one.")
            return
        self.current = self.history.pop()
        self.redraw()

    def action_history(self) -> None:
        corpus = self.session.result.corpus
        rows = []
        for d in self.session.history():
            what = "undo of " + ", ".join(f"#{seq}" for seq in d.undoes) if d.action == "undo" else d.action
            if d.source == AUTO_SOURCE:
                what += " (automatic fix)"
            words = " ".join(corpus.sentences[d.index].tokens) if d.index is not None and d.index < len(corpus) else ""
            rows.append(
                (
                    d,
                    f"#{d.seq:<5} {(d.decided_at or '')[:16].replace('T', ' ')}  {d.reviewer:<10} {what:<8} "
                    f"{self.describe(d.issue_id)}  {words[:60]}",
                )
            )

        def reopen(decision: Decision | None) -> None:
            if decision is None:
                return
            issue = self.session.issue(decision.issue_id)
            if issue is None:
                self.say(
                    "That decision is a propagated change: undo it with u, or decide again on the issue it came from."
                )
                return
            if self.current is not None:
                self.history.append(self.current)
            self.current = issue
            self.redraw()
            if decision.source == AUTO_SOURCE:
                after = "an automatic fix: k keeps the given labels instead, a or e makes the fix yours (yours wins)"
            elif self.session.disagreement(issue) is not None:
                after = "your decision resolves the disagreement"
            elif decision.reviewer == self.session.reviewer:
                after = "your decision replaces your earlier one"
            else:
                after = f"a decision other than {decision.reviewer}'s is a disagreement until it is resolved"
            self.say(f"Decide again on {self.describe(issue.id)}: {after}.")

        self.push_screen(HistoryScreen(rows), reopen)

    def action_questions(self) -> None:
        questions = self.session.result.questions
        if not questions:
            self.say("This audit has no guideline questions.")
            return

        def title(q) -> str:
            status = self.session.question_status(q)
            return f"{q.id}  " + (f"[decided: {status}]  " if status else "") + q.describe()

        def chosen(number: int | None) -> None:
            if number is None:
                return
            question = questions[number]

            def decided(choice: tuple[str, tuple[tuple[int, int, int], ...]] | None) -> None:
                if choice is None:
                    self.say(f"Question {question.id} left open.")
                    return
                label, left_out = choice
                recorded = self.session.decide_question(question, label, leave_out=left_out)
                self.redraw()
                if not recorded:
                    self.say(f"Question {question.id}: no checked mention of the group is {question.label} now.")
                    return
                mentions = sum(len(d.added) for d in recorded)
                kept = f", {len(left_out)} left out" if left_out else ""
                self.say(
                    f"Saved: question {question.id}, {mentions} mentions in {len(recorded)} sentences "
                    f"{question.label} → {label}{kept} (u undoes them together)."
                )

            sentences = [s.tokens for s in self.session.result.corpus.sentences]
            status = self.session.question_status(question)
            members = [
                (index, span.start, span.end)
                for index, spans in sorted(self.session.question_places(question).items())
                for span in spans
            ]
            self.push_screen(QuestionScreen(question, sentences, self.types, status, members), decided)

        self.push_screen(
            FormsScreen("Guideline questions (enter: open one)", [(i, title(q)) for i, q in enumerate(questions)]),
            chosen,
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
