"""The review session: accept, keep, edit, skip, undo, propagation, bulk (`nerqa.review.session`)."""

from __future__ import annotations

from review_helpers import issue_of, spans_of

from nerqa.data.tags import Span
from nerqa.review.apply import apply_decisions
from nerqa.review.session import Filters


def test_the_audit_raises_the_issues_the_tests_rely_on(session):
    kinds = {(i.type, i.index, i.text) for i in session.result.issues}
    assert {
        ("wrong_tag", 0, "HD"),
        ("wrong_tag", 1, "HD"),
        ("wrong_tag", 2, "HD"),
        ("missed_span", 3, "tumour"),
        ("span_shift", 5, "Breast"),
        ("ghost_span", 6, "cancer"),
    } <= kinds


def test_skip_goes_to_the_back_and_undo_retracts_the_last_decision(session):
    first = session.queue()[0]
    session.decide(first, "skip")
    assert session.queue()[-1] == first and session.queue()[0] != first
    second = session.queue()[0]
    session.decide(second, "accept")
    assert session.status(second) == "accept" and second not in session.queue()
    undone = session.undo()
    assert [d.issue_id for d in undone] == [second.id] and session.status(second) is None
    assert session.spans(second.index) == tuple(session.result.corpus.sentences[second.index].spans)
    assert [d.action for d in session.store.all()] == ["skip", "accept", "undo"]  # nothing is deleted


def test_same_form_propagation_records_one_decision_per_occurrence(session):
    decision = session.decide(issue_of(session, "wrong_tag", "HD"), "accept")
    places = session.propagation(decision)
    assert sorted((o.index, o.at) for o in places) == [(1, 1), (2, 0)]
    recorded = session.propagate(decision, places)
    assert (
        len(recorded) == 2 and {d.source for d in recorded} == {"propagated"} and len({d.batch for d in recorded}) == 1
    )
    # The propagated decisions settle the wrong_tag issues at those places.
    assert {session.status(i) for i in session.result.issues if i.text == "HD" and i.type == "wrong_tag"} == {"accept"}
    assert [r.label for r in session.readings(("HD",))] == ["C", "C", "C"]
    assert session.undo() == recorded and [r.label for r in session.readings(("HD",))] == ["C", "D", "D"]


def test_adding_a_missed_span_propagates_to_untagged_occurrences_only(session):
    decision = session.decide(issue_of(session, "missed_span", "tumour"), "accept")
    places = session.propagation(decision)
    assert [(o.index, o.at, o.after) for o in places] == [(4, 1, (Span(1, 2, "D"),))]


def test_bulk_accept_dry_run_changes_nothing_then_records(session):
    assert session.bulk_accept(Filters(types=frozenset({"wrong_tag"}), max_score=0.6), dry_run=True) == []
    filters = Filters(types=frozenset({"wrong_tag"}), max_score=0.7)
    planned = session.bulk_accept(filters, dry_run=True)
    assert [(d.index, d.after[0].label) for d in planned] == [
        (0, "C"),
        (1, "C"),
        (2, "C"),
    ] and session.store.all() == []
    recorded = session.bulk_accept(filters)
    assert [d.after for d in recorded] == [d.after for d in planned] and {d.source for d in recorded} == {"bulk"}
    assert session.bulk_accept(filters) == []  # decided issues are not decided again


def test_a_changed_decision_replaces_the_earlier_one_in_the_screen_and_in_apply(session):
    hd = issue_of(session, "wrong_tag", "HD")
    first = session.decide(hd, "accept")
    assert session.spans(0)[0] == Span(0, 1, "C")
    kept = session.decide(hd, "keep")  # the misclick corrected: b, then k
    assert kept.supersedes == (first.uid,) and session.status(hd) == "keep" and session.spans(0)[0] == Span(0, 1, "D")
    result = apply_decisions(session.result.corpus, session.store.effective())
    assert spans_of(result.corpus, 0) == spans_of(session.result.corpus, 0) and result.sentences_changed == 0
    session.undo()  # undoing the keep puts the accept back in force
    assert session.status(hd) == "accept" and session.spans(0)[0] == Span(0, 1, "C")
