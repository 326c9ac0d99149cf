"""Automatic fixes (`nerqa.review.autofix`): recorded as decisions of their own kind, listed,
exported, undone, and outvoted by a person."""

from __future__ import annotations

import json
from pathlib import Path

from review_helpers import issue_of, review_audit

from nerqa.review.apply import apply_decisions
from nerqa.review.autofix import AUTOFIX_REVIEWER, live_autofix, plan_autofix, record_autofix, undo_autofix
from nerqa.review.decisions import AUTO_SOURCE, DecisionStore
from nerqa.review.session import ReviewSession


def sessions(tmp_path: Path) -> tuple[ReviewSession, ReviewSession]:
    audit = review_audit()
    store = DecisionStore.open(tmp_path)
    return ReviewSession(audit, store, AUTOFIX_REVIEWER), ReviewSession(audit, store, "alice")


def test_fixes_are_held_back_on_a_corpus_the_audit_cannot_tell_from_clean(tmp_path: Path):
    robot, _ = sessions(tmp_path)
    plan = plan_autofix(robot)
    assert plan.held_back and plan.decisions == []
    assert plan_autofix(robot, force=True).decisions


def test_automatic_fixes_are_listed_exported_and_undone_as_one(tmp_path: Path):
    robot, alice = sessions(tmp_path)
    recorded = record_autofix(robot, plan_autofix(robot, force=True))
    fixed = {robot.issue(d.issue_id).type for d in recorded}
    assert fixed <= {"missed_span", "span_shift"} and fixed
    assert all(d.source == AUTO_SOURCE and d.reviewer == AUTOFIX_REVIEWER for d in recorded)
    alice.refresh()
    assert [d.uid for d in live_autofix(alice)] == [d.uid for d in recorded]
    assert {alice.status(alice.issue(d.issue_id)) for d in recorded} == {"auto"}
    # Issues only autofix decided stay in the queue, last, for a person to check.
    assert alice.queue()[-len(recorded) :] == [alice.issue(d.issue_id) for d in recorded]
    exported = [d.to_dict() for d in alice.store.all()]
    assert [r["source"] for r in exported] == ["auto"] * len(recorded)
    json.dumps(exported)
    corpus = alice.result.corpus
    applied = apply_decisions(corpus, alice.store.effective())
    assert applied.summary()["automatic_fixes_applied"] == len(recorded) and applied.sentences_changed
    assert len(undo_autofix(robot)) == len(recorded)
    assert live_autofix(robot) == [] and apply_decisions(corpus, robot.store.effective()).sentences_changed == 0


def test_a_persons_decision_on_the_same_issue_wins_before_or_after_the_fix(tmp_path: Path):
    robot, alice = sessions(tmp_path)
    tumour = issue_of(alice, "missed_span", "tumour")
    breast = issue_of(alice, "span_shift", "Breast")
    alice.decide(breast, "keep")  # before the fix: autofix leaves the issue alone
    record_autofix(robot, plan_autofix(robot, force=True))
    robot.refresh()
    assert robot.status(breast) == "keep" and robot.status(tumour) == "auto"
    alice.refresh()
    keep = alice.decide(tumour, "keep")  # after the fix: the person's keep supersedes it
    assert alice.status(tumour) == "keep" and alice.standing.disagreements == {}
    corpus = alice.result.corpus
    written = apply_decisions(corpus, alice.store.effective()).corpus
    assert written.sentences[tumour.index].tags == corpus.sentences[tumour.index].tags
    assert written.sentences[breast.index].tags == corpus.sentences[breast.index].tags
    # Undoing every automatic fix leaves the person's decisions in force.
    undo_autofix(robot)
    alice.refresh()
    assert keep.uid in {d.uid for d in alice.store.effective()} and alice.status(breast) == "keep"
