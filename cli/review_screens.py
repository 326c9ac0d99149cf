"""The review app's screens and drawing.

The review app's screens and drawing: the spans of a sentence in brackets and colour, the
help, the same-form list, the filter form, the decision history, the span editor and a
guideline question."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from nerqa.auditing.questions import Question
from nerqa.data.tags import Span
from nerqa.review.decisions import Decision
from nerqa.review.session import STATUSES, Filters
from nerqa.review.spans import ordered, overlaps

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
HELP = """\
Review keys (up/down, page up/down: scroll; escape: close)
  a  accept the suggestion
  k  keep the given labels
  e  edit the spans
  s  skip (come back to it at the end)
  u  undo your last decision
  p  preview your last decision on its linked mentions (the
     same words read the same way elsewhere) and extend it to
     the checked ones (u undoes the extension as one)
  c  show the neighbouring sentences
  f  the same form elsewhere (choose one to jump to it)
  /  filter by issue type, class, score and status
  h  history: every decision, newest first; choose one to
     decide its issue again
  g  guideline questions: groups of mentions that read like
     another type; choose one, then a type number to relabel
     the whole group (u undoes it as one decision)
  b  back to the issue you decided before (across sessions)
  ?  this help
  q  quit (every decision is already saved)

A decision on an issue you decided before replaces your earlier
one. Where reviewers' decisions on an issue differ, it is a
disagreement (counted at the top, status filter `disagreement`):
deciding it again resolves it for everyone.

Edit keys
  left/right         move the cursor
  shift+left/right   select
  n                  new span over the selection
  t                  next type
  1-9                type by number
  d                  delete the span under the cursor
  [ ]                move the span's start left/right
  { }                move its end left/right
  enter              save the edit
  escape             cancel
"""


def _colour(types: Sequence[str], label: str) -> str:
    return PALETTE[types.index(label) % len(PALETTE)] if label in types else "#777777"


def render_spans(
    tokens: Sequence[str],
    spans: Sequence[Span],
    types: Sequence[str],
    *,
    disputed: set[int] = frozenset(),
    cursor: int | None = None,
    selection: tuple[int, int] | None = None,
) -> Text:  # type: ignore[assignment]
    """Tokens with each span in brackets, coloured by type and followed by its type
    (`[muscular dystrophy]Disease`), disputed tokens underlined, and an editing cursor and
    selection shown in reverse. The brackets keep spans readable without colour."""
    text = Text()
    label_at = {t: s for s in spans for t in range(s.start, s.end)}
    for position, token in enumerate(tokens):
        span = label_at.get(position)
        colour = _colour(types, span.label) if span else ""
        if span is not None and position == span.start:
            text.append("[", style=colour)
        style = f"bold white on {colour}" if span else ""
        if position in disputed:
            style += " underline"
        if selection is not None and selection[0] <= position < selection[1]:
            style += " reverse"
        if cursor == position:
            style += " blink reverse"
        text.append(token, style=style.strip() or None)
        if span is not None and position == span.end - 1:
            text.append("]", style=colour)
            text.append(span.label, style=f"italic {colour}")
        text.append(" ")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        # Scrolls: at 80x24 the help is taller than the screen.
        with VerticalScroll(id="help"):
            yield Static(HELP)


class FormsScreen(ModalScreen[int | None]):
    """The other occurrences of the issue's words; choosing one returns its sentence index."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, title: str, options: list[tuple[int, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(id="forms"):
            yield Label(self.title_text)
            # No option ids: a form can occur twice in one sentence, and ids must be unique.
            yield OptionList(*[Option(text) for _, text in self.options])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.options[event.option_index][0])


class FilterScreen(ModalScreen[Filters | None]):
    """Issue types, classes, statuses (comma-separated) and a maximum score; enter applies.
    A value that names no issue type, class or status is refused with a message."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, current: Filters, types: Sequence[str], classes: Sequence[str]) -> None:
        super().__init__()
        self.current = current
        self.known = {"#types": tuple(types), "#classes": tuple(classes), "#statuses": STATUSES}

    def compose(self) -> ComposeResult:
        with Vertical(id="filter"):
            yield Label("Filter (empty: all). Enter applies, escape cancels.")
            yield Input(
                ",".join(sorted(self.current.types)), placeholder="issue types, e.g. wrong_tag,missed_span", id="types"
            )
            yield Input(",".join(sorted(self.current.classes)), placeholder="classes, e.g. Disease", id="classes")
            yield Input(
                "" if self.current.max_score is None else f"{self.current.max_score:g}",
                placeholder="max score, e.g. 0.2",
                id="score",
            )
            yield Input(
                ",".join(sorted(self.current.statuses)),
                placeholder="statuses, e.g. disagreement,pending",
                id="statuses",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        split = lambda widget: frozenset(p.strip() for p in self.query_one(widget, Input).value.split(",") if p.strip())  # noqa: E731
        for widget, known in self.known.items():
            unknown = sorted(split(widget) - set(known))
            if unknown:
                what = widget.lstrip("#")[:-1] if widget != "#classes" else "class"
                self.notify(f"no {what} {', '.join(unknown)}; choose from {', '.join(known)}", severity="error")
                return
        raw = self.query_one("#score", Input).value.strip()
        try:
            score = float(raw) if raw else None
        except ValueError:
            self.notify(f"not a score: {raw!r}", severity="error")
            return
        self.dismiss(Filters(split("#types"), split("#classes"), score, split("#statuses")))


class HistoryScreen(ModalScreen[Decision | None]):
    """Every decision of the audit, newest first; typing filters (reviewer, action, words);
    choosing one returns it."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[Decision, str]]) -> None:
        super().__init__()
        self.rows = rows
        self.shown = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Label(
                f"{len(self.rows)} decision{'s' * (len(self.rows) != 1)}, newest first. "
                "Type to filter; enter on one decides its issue again."
            )
            yield Input(placeholder="filter: reviewer, action or words", id="history-filter")
            yield OptionList(*[Option(text) for _, text in self.rows], id="history-list")

    def on_input_changed(self, event: Input.Changed) -> None:
        words = event.value.lower().split()
        self.shown = [(d, text) for d, text in self.rows if all(w in text.lower() for w in words)]
        listing = self.query_one("#history-list", OptionList)
        listing.clear_options()
        listing.add_options([Option(text) for _, text in self.shown])
        listing.highlighted = 0 if self.shown else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter: the first decision shown is chosen (tab reaches the list)."""
        if self.shown:
            self.dismiss(self.shown[0][0])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index][0])


class EditScreen(ModalScreen[tuple[Span, ...] | None]):
    """Edit a sentence's spans with the keyboard; returns the new spans (None: cancelled)."""

    BINDINGS = [
        Binding("left", "move(-1)", "Left", show=False),
        Binding("right", "move(1)", "Right", show=False),
        Binding("shift+left", "select(-1)", "Select", show=False),
        Binding("shift+right", "select(1)", "Select", show=False),
        Binding("n", "new", "New span"),
        Binding("t", "cycle_type", "Type"),
        Binding("d,delete", "delete", "Delete"),
        Binding("left_square_bracket", "boundary('start', -1)", "Start left", show=False),
        Binding("right_square_bracket", "boundary('start', 1)", "Start right", show=False),
        Binding("left_curly_bracket", "boundary('end', -1)", "End left", show=False),
        Binding("right_curly_bracket", "boundary('end', 1)", "End right", show=False),
        *[Binding(str(n), f"set_type({n - 1})", show=False) for n in range(1, 10)],
        Binding("enter", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self, tokens: Sequence[str], spans: Sequence[Span], types: Sequence[str], cursor: int, default_type: str
    ) -> None:
        super().__init__()
        self.tokens = list(tokens)
        self.spans = list(ordered(spans))
        self.types = list(types)
        self.cursor = cursor
        self.anchor: int | None = None
        self.default_type = default_type if default_type in types else (types[0] if types else "ENT")

    def compose(self) -> ComposeResult:
        with Vertical(id="editor"):
            yield Label("Edit spans: enter saves, escape cancels, ? in the review screen lists the keys")
            yield Static(id="edit-sentence")
            yield Static(" ".join(f"{n}={t}" for n, t in enumerate(self.types[:9], start=1)), id="edit-types")
            yield Static(id="edit-status")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()

    def selection(self) -> tuple[int, int]:
        if self.anchor is None:
            return self.cursor, self.cursor + 1
        return min(self.anchor, self.cursor), max(self.anchor, self.cursor) + 1

    def under_cursor(self) -> Span | None:
        return next((s for s in self.spans if s.start <= self.cursor < s.end), None)

    def redraw(self, message: str = "") -> None:
        sentence = render_spans(
            self.tokens,
            self.spans,
            self.types,
            cursor=self.cursor,
            selection=self.selection() if self.anchor is not None else None,
        )
        self.query_one("#edit-sentence", Static).update(sentence)
        span = self.under_cursor()
        where = f"cursor on {self.tokens[self.cursor]!r}" + (
            f", in {span.label} span {span.start}-{span.end}" if span else ""
        )
        self.query_one("#edit-status", Static).update(Text(f"{where}  {message}"))

    def action_move(self, step: int) -> None:
        self.anchor = None
        self.cursor = max(0, min(len(self.tokens) - 1, self.cursor + step))
        self.redraw()

    def action_select(self, step: int) -> None:
        if self.anchor is None:
            self.anchor = self.cursor
        self.cursor = max(0, min(len(self.tokens) - 1, self.cursor + step))
        self.redraw()

    def _replace(self, old: Span | None, new: Span | None) -> bool:
        rest = [s for s in self.spans if s != old]
        if new is not None:
            if new.start >= new.end or new.start < 0 or new.end > len(self.tokens):
                self.redraw("a span needs at least one token")
                return False
            if any(overlaps(s, new) for s in rest):
                self.redraw("that would overlap another span")
                return False
            rest.append(new)
        self.spans = list(ordered(rest))
        return True

    def action_new(self) -> None:
        start, end = self.selection()
        self.spans = [s for s in self.spans if not overlaps(s, Span(start, end, self.default_type))]
        self._replace(None, Span(start, end, self.default_type))
        self.anchor = None
        self.redraw(f"new {self.default_type} span")

    def action_cycle_type(self) -> None:
        span = self.under_cursor()
        if span is None or not self.types:
            self.redraw("no span under the cursor")
            return
        label = (
            self.types[(self.types.index(span.label) + 1) % len(self.types)]
            if span.label in self.types
            else self.types[0]
        )
        self._replace(span, Span(span.start, span.end, label))
        self.redraw()

    def action_set_type(self, number: int) -> None:
        span = self.under_cursor()
        if span is None or number >= len(self.types):
            self.redraw("no span under the cursor" if span is None else "no such type")
            return
        self._replace(span, Span(span.start, span.end, self.types[number]))
        self.redraw()

    def action_delete(self) -> None:
        span = self.under_cursor()
        if span is not None:
            self._replace(span, None)
        self.redraw("span deleted" if span else "no span under the cursor")

    def action_boundary(self, side: str, step: int) -> None:
        span = self.under_cursor()
        if span is None:
            self.redraw("no span under the cursor")
            return
        new = (
            Span(span.start + step, span.end, span.label)
            if side == "start"
            else Span(span.start, span.end + step, span.label)
        )
        if self._replace(span, new):
            self.cursor = max(new.start, min(self.cursor, new.end - 1))
            self.redraw()

    def action_save(self) -> None:
        self.dismiss(tuple(self.spans))

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuestionScreen(ModalScreen["tuple[str, tuple[tuple[int, int, int], ...]] | None"]):
    """One guideline question: every mention of its group the decision would change, each in its
    sentence and checked (space leaves one out, or puts it back), and the mentions they read
    like; a type number relabels the checked ones. Returns `(type, left out)`, the left-out
    mentions as `(sentence, start, end)`; None: cancelled."""

    BINDINGS = [
        *[Binding(str(n), f"choose({n - 1})", show=False) for n in range(1, 10)],
        Binding("escape", "dismiss", "Cancel"),
    ]

    def __init__(
        self,
        question: Question,
        sentences: Sequence[Sequence[str]],
        types: Sequence[str],
        status: str | None,
        members: Sequence[tuple[int, int, int]],
    ):
        super().__init__()
        self.question = question
        self.sentences = sentences
        self.types = [t for t in types if t != question.label]
        self.status = status
        self.members = list(members)

    def example(self, where: tuple[int, int, int, str], label: str) -> Text:
        index, start, end, _ = where
        line = Text(f"  s. {index}: ", style="dim")
        line.append_text(render_spans(self.sentences[index], [Span(start, end, label)], [label]))
        return line

    def compose(self) -> ComposeResult:
        q = self.question
        text = Text(f"Question {q.id}: ", style="bold")
        text.append(q.describe())
        if self.status:
            text.append(f"\n[decided: {q.label} → {self.status}; u in the review undoes it]", style="yellow")
        resembled = q.clusters[1] if len(q.clusters) > 1 else None
        if resembled is not None and resembled.size:
            text.append(f"\nThey read like these {resembled.size} {q.suggested} mentions, for example\n", style="bold")
            for where in resembled.examples:
                text.append_text(self.example(where, q.suggested))
                text.append("\n")
        text.append(
            f"\nThe decision changes these {len(self.members)} mentions given {q.label} "
            "(space: leave one out or put it back):",
            style="bold",
        )
        choices = "  ".join(f"{n} {t}" for n, t in enumerate(self.types, 1))
        with Vertical(id="question"):
            yield Static(text)
            yield SelectionList[tuple[int, int, int]](
                *[Selection(self.member(m, True), m, True) for m in self.members], id="members"
            )
            yield Static(Text(f"Relabel the checked mentions to: {choices}   (escape: leave it)", style="bold"))

    def member(self, where: tuple[int, int, int], checked: bool) -> Text:
        """A member's line: its sentence, and whether the decision leaves it as it is (in words,
        not only by the check mark, which some terminals show in colour alone)."""
        index, start, end = where
        line = self.example((index, start, end, ""), self.question.label)
        if not checked:
            line.append(f"   left out: stays {self.question.label}", style="yellow")
        return line

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        members = self.query_one("#members", SelectionList)
        where = self.members[event.selection_index]
        members.replace_option_prompt_at_index(event.selection_index, self.member(where, where in members.selected))

    def action_choose(self, number: int) -> None:
        if number < len(self.types):
            checked = set(self.query_one("#members", SelectionList).selected)
            left_out = tuple(m for m in self.members if m not in checked)
            self.dismiss((self.types[number], left_out))


class LinkedScreen(ModalScreen["tuple[int, ...] | None"]):
    """The preview of a decision extended to its linked mentions: each in its sentence as the
    extension would leave it, checked (space leaves one out, or puts it back). Enter extends
    the decision to the checked ones and returns their positions in `rows`; escape: None."""

    BINDINGS = [Binding("enter", "extend", "Extend", priority=True), Binding("escape", "dismiss", "Cancel")]

    def __init__(self, title: str, rows: Sequence[Text]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        with Vertical(id="linked"):
            yield Static(Text(self.title_text, style="bold"))
            yield SelectionList[int](
                *[Selection(self.row(i, True), i, True) for i in range(len(self.rows))], id="members"
            )
            yield Static(Text("enter: extend the decision to the checked mentions   escape: leave them", style="bold"))

    def row(self, i: int, checked: bool) -> Text:
        line = self.rows[i].copy()
        if not checked:
            line.append("   left out: stays as it is", style="yellow")
        return line

    def on_selection_list_selection_toggled(self, event: SelectionList.SelectionToggled) -> None:
        members = self.query_one("#members", SelectionList)
        i = event.selection_index
        members.replace_option_prompt_at_index(i, self.row(i, i in members.selected))

    def action_extend(self) -> None:
        self.dismiss(tuple(sorted(self.query_one("#members", SelectionList).selected)))
