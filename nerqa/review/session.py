"""A review session: the queue, the decisions on it, undo.

The queue of issues, the decisions on them, undo, and same-form propagation. The terminal app
and the bulk command both drive this; it never prints.

The sentence states the session shows are the audited spans with the decisions in force
replayed (`nerqa.review.decisions.standing`, then `nerqa.review.apply.Replay`: the same two
steps `apply` takes), re-read from the store after each write so that another reviewer's
decisions appear too.

A decision on an issue is made against the sentence as it reads without any decision on that
issue (keep means the audited labels there, accept the suggestion on them), and supersedes the
reviewer's own earlier decision on it, or, when the issue is in disagreement, every side.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

from nerqa.auditing.folder import AuditResult
from nerqa.auditing.issues import Issue
from nerqa.auditing.questions import Question
from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.review.apply import Replay
from nerqa.review.decisions import (
    AUTO_SOURCE,
    Action,
    Decision,
    DecisionStore,
    Disagreement,
    standing,
)
from nerqa.review.filters import STATUSES, Filters
from nerqa.review.linking import Linking, reach_order
from nerqa.review.spans import (
    FormIndex,
    check_spans,
    ordered,
    suggested_fix,
)

ORDERS = ("reach", "score", "uncertainty")
__all__ = ["ORDERS", "STATUSES", "Filters", "Reading", "ReviewSession"]


@dataclass(frozen=True)
class Reading:
    """How one occurrence of a surface form is labeled now: `label` is a type, `untagged`, or
    `other` (a span with other boundaries covers some of it)."""

    index: int
    start: int
    label: str


@dataclass
class ReviewSession(Linking):
    """The review of one audit by one reviewer. Create with `ReviewSession.start(...)`."""

    result: AuditResult
    store: DecisionStore
    reviewer: str
    filters: Filters = field(default_factory=Filters)
    clock: Callable[[], float] = time.monotonic
    # "reach": the audit's rank divided by how many issues share the issue's words, given label
    # and suggestion (one decision, extended to its linked issues, settles them all), so a
    # repeated error comes up as early as its reach is worth; "score": most suspicious issue
    # first; "uncertainty": issues of the sentences the model is least sure of first (the
    # measure `nerqa select` ranks a pool by), rank order within one.
    order: str = "reach"

    def __post_init__(self) -> None:
        corpus = self.result.corpus
        self.replay = Replay(corpus)
        self.keys, self.by_key = self.replay.keys, self.replay.index
        self.forms = FormIndex([s.tokens for s in corpus.sentences])
        self.decision_times: list[float] = []
        self.started = self.clock()
        self._issues_by_id = {i.id: i for i in self.result.issues}
        if self.order not in ORDERS:
            raise NerqaError(f"unknown order {self.order!r}; choose one of {', '.join(ORDERS)}")
        self.uncertainty = None
        if self.order == "uncertainty":
            from nerqa.active.strategies import DEFAULT_STRATEGY, sentence_scores

            self.uncertainty = sentence_scores(self.result.pred_probs, DEFAULT_STRATEGY)
        self.refresh()

    # --- state --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the store: every reviewer's decisions in force, replayed onto the audit."""
        self.rows = self.store.all()
        self.standing = standing(self.rows)
        self.effective = self.standing.in_force
        self.latest = {d.issue_id: d for d in self.effective}
        self.states, _, _ = self.replay.run(self.effective)

    def status(self, issue: Issue) -> str | None:
        """The action in force on the issue, `disagreement` when reviewers' decisions on it
        differ, `auto` when an automatic fix (`nerqa autofix`) is all that decided it, or None
        when it is not decided.

        Args:
            issue: an issue of the session's audit.
        """
        if issue.id in self.standing.disagreements:
            return "disagreement"
        decision = self.latest.get(issue.id)
        if decision is not None and decision.source == AUTO_SOURCE:
            return "auto"
        return decision.action if decision else None

    def disagreement(self, issue: Issue) -> Disagreement | None:
        """The reviewers' differing decisions on the issue, or None when they agree or only one decided.

        Args:
            issue: an issue of the session's audit.
        """
        return self.standing.disagreements.get(issue.id)

    @property
    def issues(self) -> list[Issue]:
        """The issues the filters admit, in the session's order (default: most suspicious first)."""
        admitted = [i for i in self.result.issues if self.filters.admits(i)]
        if self.order == "reach":
            admitted = reach_order(admitted)
        if self.filters.statuses:
            admitted = [i for i in admitted if (self.status(i) or "pending") in self.filters.statuses]
        if self.uncertainty is not None:
            uncertainty = self.uncertainty
            admitted.sort(key=lambda i: -uncertainty[i.index])  # stable: rank order within a sentence
        return admitted

    def queue(self) -> list[Issue]:
        """What is left to review: undecided issues in rank order, then disagreements, then
        skipped ones, then those only an automatic fix decided (a person may still check them)."""
        admitted = self.issues
        fresh = [i for i in admitted if self.status(i) is None]
        disputed = [i for i in admitted if self.status(i) == "disagreement"]
        skipped = [i for i in admitted if self.status(i) == "skip"]
        automatic = [i for i in admitted if self.status(i) == "auto"]
        return fresh + disputed + skipped + automatic

    def counts(self) -> Counter[str]:
        """Issues of the filtered list per action in force (`pending` for undecided ones,
        `disagreement` for those in disagreement)."""
        return Counter(self.status(i) or "pending" for i in self.issues)

    def seconds_per_decision(self) -> float | None:
        """The median time between this session's decisions (None before two)."""
        times = [self.started] + self.decision_times
        gaps = [b - a for a, b in zip(times, times[1:])]
        return statistics.median(gaps) if gaps else None

    def eta_seconds(self) -> float | None:
        pace = self.seconds_per_decision()
        return None if pace is None else pace * len(self.queue())

    def spans(self, index: int) -> tuple[Span, ...]:
        """Sentence `index`'s spans now (audited labels with the decisions made).

        Args:
            index: a sentence index of the audited corpus.
        """
        return self.states[index]

    def suggestion(self, issue: Issue) -> tuple[Span, ...]:
        """The sentence with the issue's suggestion applied: what accepting it records (made on
        `base(issue)`, so a decision already made on the issue does not change it).

        Args:
            issue: an issue of the session's audit.
        """
        return suggested_fix(self.base(issue), issue)

    def readings(self, tokens: Sequence[str]) -> list[Reading]:
        """Every occurrence of a token sequence in the corpus and how it is labeled now.

        Args:
            tokens: the words to look for.
        """
        out = []
        n = len(tokens)
        for index, at in self.forms.find(tokens):
            spans = [s for s in self.states[index] if s.start < at + n and at < s.end]
            if not spans:
                label = "untagged"
            elif len(spans) == 1 and (spans[0].start, spans[0].end) == (at, at + n):
                label = spans[0].label
            else:
                label = "other"
            out.append(Reading(index, at, label))
        return out

    # --- decisions ----------------------------------------------------------------------------

    def make_decision(
        self,
        issue_id: str,
        index: int,
        action: Action,
        after: Sequence[Span],
        *,
        source: str,
        batch: str,
        before: Sequence[Span] | None = None,
    ) -> Decision:
        """A decision on sentence `index` (not recorded): its spans now (or `before`) to `after`.
        Raises `NerqaError` when `after` has spans outside the sentence or overlapping.

        Args:
            issue_id: the issue decided on (or a question's or linked mention's id).
            index: the sentence's index.
            action: `accept`, `keep`, `edit` or `skip`.
            after: the sentence's spans after the decision.
            source: where the decision comes from (`review`, `bulk`, `linked`, `question`, `auto`, ...).
            batch: the batch id one undo takes back together.
            before: the spans before it (default: the sentence's spans now).
        """
        sentence = self.result.corpus.sentences[index]
        after = ordered(after)
        check_spans(after, len(sentence), where=f"sentence {index}")
        return Decision(
            issue_id=issue_id,
            sentence_key=self.keys[index],
            sentence_hash=self.replay.hash(index),
            action=action,
            before=ordered(self.states[index] if before is None else before),
            after=after,
            reviewer=self.reviewer,
            source=source,
            doc_id=self.result.corpus.sentence_doc_ids[index],
            index=index,
            batch=batch,
        )

    def base(self, issue: Issue) -> tuple[Span, ...]:
        """The issue's sentence as it reads with every decision in force but those on this
        issue: what a new decision on it starts from.

        Args:
            issue: an issue of the session's audit.
        """
        others = [d for d in self.effective if d.issue_id != issue.id and d.sentence_key == self.keys[issue.index]]
        states, _, _ = self.replay.run(others, only=issue.index)
        return states[issue.index]

    def replaces(self, issue: Issue, *, reviewer: str | None = None) -> tuple[str, ...]:
        """The uids a new decision of `reviewer` (default: the session's) on the issue
        supersedes: every side of a disagreement (deciding on one resolves it), else the
        reviewer's own head.

        Args:
            issue: an issue of the session's audit.
            reviewer: whose head is superseded (default: the session's reviewer).
        """
        heads = self.standing.heads.get(issue.id, [])
        if issue.id in self.standing.disagreements:
            return tuple(d.uid for d in heads)
        name = reviewer or self.reviewer
        return tuple(d.uid for d in heads if d.reviewer == name or d.source == AUTO_SOURCE)

    def decide(
        self, issue: Issue, action: Action, after: Sequence[Span] | None = None, *, source: str = "review"
    ) -> Decision:
        """Record a decision on an issue and return it once it is stored.

        accept: the suggestion; keep and skip: the labels as audited (with decisions on other
        issues of the sentence); edit: `after`. It supersedes `replaces(issue)`.

        Args:
            issue: an issue of the session's audit.
            action: `accept`, `keep`, `edit` or `skip`.
            after: for `edit`, the sentence's spans after it.
            source: where the decision comes from (default `review`).

        Raises:
            NerqaError: `edit` without `after`, or spans outside the sentence or overlapping.
        """
        base = self.base(issue)
        if action == "accept":
            after = self.suggestion(issue)
        elif action in ("keep", "skip"):
            after = base
        elif action == "edit":
            if after is None:
                raise ValueError("an edit needs the spans after it")
        else:
            raise ValueError(f"decide() takes accept, keep, edit or skip, not {action!r}")
        planned = self.make_decision(
            issue.id, issue.index, action, after, source=source, batch=uuid.uuid4().hex[:12], before=base
        )
        decision = self.store.record(replace(planned, supersedes=self.replaces(issue)))
        self._recorded()
        return decision

    def _recorded(self) -> None:
        self.decision_times.append(self.clock())
        self.refresh()

    def record_batch(self, planned: list[Decision]) -> list[Decision]:
        """Record planned decisions in one transaction (they share a batch, so one undo takes
        them all back); returns them as stored, or [] when there are none.

        Args:
            planned: decisions made with `make_decision`, one batch id.
        """
        if not planned:
            return []
        recorded = self.store.record_all(planned)
        self._recorded()
        return recorded

    def own_batches(self) -> list[list[Decision]]:
        """This reviewer's live decisions (every session), grouped by batch, oldest first."""
        batches: dict[str, list[Decision]] = {}
        for d in self.standing.live:
            if d.reviewer == self.reviewer:
                batches.setdefault(d.batch or d.uid, []).append(d)
        return sorted(batches.values(), key=lambda b: b[-1].seq or 0)

    def undo(self) -> list[Decision]:
        """Retract this reviewer's last live decision, from this session or an earlier one (all
        of it, for a propagation or a bulk acceptance); returns what was undone (empty when
        nothing is left). A decision it superseded is in force again."""
        batches = self.own_batches()
        if not batches:
            return []
        batch = batches[-1]
        if self.decision_times:
            self.decision_times.pop()
        self.store.undo(batch, self.reviewer)
        self.refresh()
        return batch

    def history(self) -> list[Decision]:
        """Every decision of the audit, every session and reviewer, newest first (undo rows included)."""
        return sorted(self.rows, key=lambda d: -(d.seq or 0))

    def issue(self, issue_id: str) -> Issue | None:
        """The issue with this id in the session's audit, or None.

        Args:
            issue_id: a stable issue id.
        """
        return self._issues_by_id.get(issue_id)

    # --- guideline questions --------------------------------------------------------------

    def question_places(self, question: Question) -> dict[int, list[Span]]:
        """Per sentence, the spans of the question's group as they read now: its mentions that
        still carry the question's type (a decision since may have changed some).

        Args:
            question: a guideline question of the audit.
        """
        out: dict[int, list[Span]] = {}
        for index, start, end, _ in question.mentions:
            span = Span(start, end, question.label)
            if span in self.states[index]:
                out.setdefault(index, []).append(span)
        return out

    def question_status(self, question: Question) -> str | None:
        """The type a live decision of this audit gave the question's group, or None.

        Args:
            question: a guideline question of the audit.
        """
        prefix = _question_prefix(question)
        decided = [d for d in self.effective if d.source == "question" and d.issue_id.startswith(prefix)]
        if not decided:
            return None
        return decided[-1].issue_id.rsplit(":", 1)[1]

    def decide_question(
        self, question: Question, label: str, *, leave_out: Collection[tuple[int, int, int]] = ()
    ) -> list[Decision]:
        """Relabel every mention of the question's group that still carries its type to
        `label`, except those in `leave_out` (`(sentence, start, end)` each, mentions the
        reviewer saw and kept): one decision per sentence changed (source `question`), all
        recorded in one transaction with one batch id, so that one undo takes all of them back.
        Returns what was recorded (empty when no mention is left to change: to decide a question
        again, undo first).

        Args:
            question: a guideline question of the audit.
            label: the type the group's mentions get.
            leave_out: `(sentence, start, end)` of mentions to leave as they are.
        """
        if label == question.label:
            raise NerqaError(f"question {question.id}: its mentions are {label} already")
        if label not in self.result.corpus.entity_types and f"B-{label}" not in self.result.tags:
            raise NerqaError(f"question {question.id}: unknown type {label!r}")
        batch = uuid.uuid4().hex[:12]
        planned = []
        kept = set(leave_out)
        for index, spans in self.question_places(question).items():
            spans = [s for s in spans if (index, s.start, s.end) not in kept]
            if not spans:
                continue
            before = self.states[index]
            after = tuple(Span(s.start, s.end, label) if s in spans else s for s in before)
            sentence = hashlib.sha256(self.keys[index].encode()).hexdigest()[:10]
            issue_id = f"{_question_prefix(question)}{sentence}:{label}"
            planned.append(
                self.make_decision(issue_id, index, "edit", after, source="question", batch=batch, before=before)
            )
        return self.record_batch(planned)

    def bulk_accept(
        self, filters: Filters, *, dry_run: bool = False, linked: bool = False, source: str = "bulk"
    ) -> list[Decision]:
        """Accept the suggestion of every undecided issue the filters admit, in rank order
        (one decision each; a suggestion that would change nothing is left alone). With
        `linked`, each acceptance is extended to its linked mentions (the same words reading
        as they did, `propagation`), each a decision of source `propagated` after it.

        With `dry_run`, the decisions are computed as they would be recorded, and none is.

        Args:
            filters: which issues to accept (types, confidence, rank).
            dry_run: plan the decisions without recording them.
            linked: extend each acceptance to its linked mentions.
            source: the decisions' source (default `bulk`).

        Returns:
            The decisions recorded (or, with `dry_run`, planned).
        """
        batch = uuid.uuid4().hex[:12]
        planned = []
        states = list(self.states)
        for issue in self.result.issues:
            if not filters.admits(issue) or self.status(issue) is not None:
                continue
            after = suggested_fix(states[issue.index], issue)
            if after == states[issue.index]:
                continue
            d = self.make_decision(
                issue.id, issue.index, "accept", after, source=source, batch=batch, before=states[issue.index]
            )
            states[issue.index] = after
            planned.append(d)
            if linked:
                planned += self.extend_planned(d, states, batch)
        return planned if dry_run else self.record_batch(planned)


def _question_prefix(question: Question) -> str:
    """The start of the issue ids of a question's decisions: `qu-` and a digest of its group
    (its type and mentions), so that a re-audit's question over the same group keeps it."""
    digest = hashlib.sha256(json.dumps([question.label, sorted(question.mentions)]).encode()).hexdigest()
    return f"qu-{digest[:12]}-"
