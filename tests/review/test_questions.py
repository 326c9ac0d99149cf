"""Guideline questions decided in a review session: one decision for a whole group of
mentions, undone as one, applied to exactly those mentions (`ReviewSession.decide_question`)."""

from __future__ import annotations

import pytest
from review_helpers import hd_question

from nerqa.errors import NerqaError
from nerqa.review.apply import apply_decisions


def spans(corpus) -> list[list[tuple[int, int, str]]]:
    return [[(s.start, s.end, s.label) for s in sentence.spans] for sentence in corpus.sentences]


def test_a_question_decided_relabels_its_group_and_only_it(session):
    before = spans(session.result.corpus)
    question = hd_question()
    recorded = session.decide_question(question, "C")
    assert len(recorded) == 3 and len({d.batch for d in recorded}) == 1
    assert {d.source for d in recorded} == {"question"} and session.question_status(question) == "C"
    after = spans(apply_decisions(session.result.corpus, session.store.effective()).corpus)
    changed = {(i, s) for i in range(len(before)) for s in set(after[i]) ^ set(before[i])}
    assert changed == {(0, (0, 1, "D")), (0, (0, 1, "C")), (1, (1, 2, "D")), (1, (1, 2, "C"))} | {
        (2, (0, 1, "D")),
        (2, (0, 1, "C")),
    }
    # Sentence 0's other span (muscular dystrophy, D) is not in the group and stays D.
    assert (3, 5, "D") in after[0]


def test_undo_takes_the_whole_question_back_and_it_can_be_decided_again(session):
    question = hd_question()
    session.decide_question(question, "C")
    assert session.decide_question(question, "C") == []  # nothing of the group reads D any more
    undone = session.undo()
    assert len(undone) == 3 and session.question_status(question) is None
    assert apply_decisions(session.result.corpus, session.store.effective()).corpus == session.result.corpus
    again = session.decide_question(question, "C")
    assert len(again) == 3 and session.question_status(question) == "C"
    history = session.history()
    assert [d.action for d in history[:4]] == ["edit"] * 3 + ["undo"]


def test_a_question_decision_to_its_own_or_an_unknown_type_is_refused(session):
    with pytest.raises(NerqaError, match="D already"):
        session.decide_question(hd_question(), "D")
    with pytest.raises(NerqaError, match="unknown type 'GENE'"):
        session.decide_question(hd_question(), "GENE")
    assert session.store.all() == []


def test_a_question_decision_travels_in_the_decision_log_to_another_copy(session, tmp_path):
    import json

    from review_helpers import review_audit

    from nerqa.review.decisions import DecisionStore
    from nerqa.review.roundtrip import import_decision_log
    from nerqa.review.session import ReviewSession

    session.decide_question(hd_question(), "C")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(d.to_dict()) + "\n" for d in session.store.all()))
    (tmp_path / "copy").mkdir()
    other = ReviewSession(review_audit(), DecisionStore.open(tmp_path / "copy"), "bob")
    recorded, _ = other.store.record_new(import_decision_log(other, log))
    other.refresh()
    assert len(recorded) == 3 and other.question_status(hd_question()) == "C"
    mine = apply_decisions(session.result.corpus, session.store.effective()).corpus
    assert apply_decisions(other.result.corpus, other.store.effective()).corpus == mine


def test_a_question_decided_with_members_left_out_changes_exactly_the_rest(tmp_path):
    from review_helpers import hd_question, review_audit

    from nerqa.review.decisions import DecisionStore
    from nerqa.review.session import ReviewSession

    result = review_audit()
    result.questions = [hd_question()]
    session = ReviewSession(result, DecisionStore.open(tmp_path), "alice")
    recorded = session.decide_question(result.questions[0], "C", leave_out=[(1, 1, 2)])
    assert sorted(d.index for d in recorded) == [0, 2]
    assert all(s.label == "C" for d in recorded for s in d.added)
    assert (1, 1, 2) in {
        (i, s.start, s.end) for i, spans in session.question_places(result.questions[0]).items() for s in spans
    }
