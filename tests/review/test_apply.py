"""Decisions to a corrected corpus (`nerqa.review.apply`)."""

from __future__ import annotations

from pathlib import Path

from review_helpers import issue_of, review_audit, review_corpus, spans_of

from nerqa.data.tags import Span
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import DecisionStore
from nerqa.review.session import ReviewSession


def test_accept_keep_edit_and_apply_make_exactly_the_decided_changes(session):
    accept = session.decide(issue_of(session, "wrong_tag", "HD"), "accept")
    assert (
        accept.seq == 1
        and accept.before == (Span(0, 1, "D"), Span(3, 5, "D"))
        and accept.after == (Span(0, 1, "C"), Span(3, 5, "D"))
    )
    session.decide(issue_of(session, "ghost_span", "cancer"), "keep")
    shift = issue_of(session, "span_shift", "Breast")
    session.decide(shift, "edit", [Span(0, 2, "C")])
    decisions = session.store.effective()
    assert [d.action for d in decisions] == ["accept", "keep", "edit"]
    result = apply_decisions(session.result.corpus, decisions)
    assert result.conflicts == [] and len(result.applied) == 3
    corpus = session.result.corpus
    changed = [i for i in range(len(corpus)) if corpus.sentences[i].tags != result.corpus.sentences[i].tags]
    assert changed == [0, 5]
    assert spans_of(result.corpus, 0) == [(0, 1, "C"), (3, 5, "D")] and spans_of(result.corpus, 5) == [(0, 2, "C")]
    assert result.summary()["spans"] == {"D": {"changed": 2, "added": 0, "removed": 0}}
    again = apply_decisions(session.result.corpus, session.store.effective())
    assert again.corpus == result.corpus  # applying twice gives the same corpus


def test_two_reviewers_on_other_issues_of_one_sentence_both_apply(tmp_path: Path):
    audit = review_audit()
    alice = ReviewSession(audit, DecisionStore.open(tmp_path), "alice")
    bob = ReviewSession(audit, DecisionStore.open(tmp_path), "bob")
    alice.decide(issue_of(alice, "wrong_tag", "HD"), "accept")  # HD -> C
    bob.decide(
        issue_of(bob, "sparse", "muscular dystrophy"), "edit", [Span(0, 1, "D"), Span(3, 5, "C")]
    )  # bob saw HD as D
    result = apply_decisions(audit.corpus, DecisionStore.open(tmp_path).effective())
    assert spans_of(result.corpus, 0) == [(0, 1, "C"), (3, 5, "C")] and result.conflicts == []


def test_a_decision_whose_sentence_changed_is_a_conflict_not_applied(session):
    session.decide(issue_of(session, "wrong_tag", "HD"), "accept")
    corpus = review_corpus()
    from review_helpers import ROWS

    from nerqa.data.corpus import Corpus, Document, Sentence

    relabeled = Corpus(
        (Document("d1", (Sentence(tuple(ROWS[0][1].split()), ("O",) * 6), corpus.documents[0].sentences[1])),)
        + corpus.documents[1:]
    )
    result = apply_decisions(relabeled, session.store.effective())
    assert result.applied == [] and "labels changed since the audit" in result.conflicts[0].reason
    assert result.corpus == relabeled
    retokenised = Corpus((Document("d1", (Sentence(("HD", "patients"), ("B-D", "O")),)),))
    assert "not in this corpus" in apply_decisions(retokenised, session.store.effective()).conflicts[0].reason
