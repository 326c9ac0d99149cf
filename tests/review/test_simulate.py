"""The simulated reviewer who knows the truth (`nerqa.review.simulate`)."""

from __future__ import annotations

import numpy as np

from nerqa.data.tags import Span
from nerqa.review.apply import apply_decisions
from nerqa.review.simulate import careful_decision, review_order, review_with_truth, words_of

# The true tags of review_helpers.ROWS (the session fixture's corpus): HD is C in sentence 0
# only; "tumour" is D in sentence 3; "Breast cancer" is C in sentence 5 (neither what was given
# nor what the model reads); "cancer" is right in sentence 6, where "family" is a D that no
# issue points at.
TRUTH = [
    "B-C O O B-D I-D O",
    "O B-D O O O O O",
    "B-D O O O O O",
    "O B-D O O O",
    "O O O O O",
    "B-C I-C O O O",
    "O B-D O O O O B-D O",
    "B-D I-D O O",
]


def test_each_issue_is_accepted_kept_or_edited_to_the_truth_and_apply_writes_it(session):
    truth = [t.split() for t in TRUTH]
    queue = review_order(session, "nerqa")
    counts = review_with_truth(session, truth, queue, budget=len(queue))
    decided = {(d.index, d.action) for d in session.store.effective()}
    assert {(0, "accept"), (1, "keep"), (2, "keep"), (3, "accept"), (5, "edit"), (6, "keep")} <= decided
    assert sum(counts.values()) == len(queue) == len(session.store.all())
    corrected = apply_decisions(session.result.corpus, session.store.effective()).corpus
    got = [" ".join(s.tags) for s in corrected.sentences]
    # Every sentence an issue pointed at now reads true; "family", which none pointed at, stays untagged.
    assert got[:6] + got[7:] == TRUTH[:6] + TRUTH[7:]
    assert got[6] == "O B-D O O O O O O"


def test_the_budget_stops_the_review_and_the_orders_hold_the_same_issues(session):
    truth = [t.split() for t in TRUTH]
    nerqa, by_cleanlab = review_order(session, "nerqa"), review_order(session, "cleanlab")
    shuffled, again = review_order(session, "random", seed=3), review_order(session, "random", seed=3)
    assert sorted(i.id for i in nerqa) == sorted(i.id for i in by_cleanlab) == sorted(i.id for i in shuffled)
    assert shuffled == again
    scores = np.asarray(session.result.cleanlab_scores)
    assert [scores[i.index] for i in by_cleanlab] == sorted(scores[i.index] for i in nerqa)
    counts = review_with_truth(session, truth, by_cleanlab, budget=2)
    assert sum(counts.values()) == 2 and [d.issue_id for d in session.store.all()] == [i.id for i in by_cleanlab[:2]]


def test_the_words_of_an_issue_grow_to_every_span_that_crosses_them():
    from nerqa.auditing.issues import Issue

    issue = Issue(
        id="x", index=0, doc_id=None, start=2, end=3, type="span_shift", given="D", suggested="D", score=0.1,
        text="b", reason="", suggested_start=1, suggested_end=3,
    )  # fmt: skip
    now, truth = (Span(2, 3, "D"),), (Span(0, 2, "C"), Span(2, 5, "D"))
    suggestion = (Span(1, 3, "D"),)
    assert words_of(issue, now, suggestion, truth) == (0, 5)
    assert careful_decision(issue, now, suggestion, truth) == ("edit", truth)
    assert careful_decision(issue, now, suggestion, suggestion)[0] == "accept"
    assert careful_decision(issue, now, suggestion, now)[0] == "keep"
    # A span far from the issue is neither read nor changed.
    far = (Span(2, 3, "D"), Span(8, 9, "C"))
    assert careful_decision(issue, far, (Span(1, 3, "D"), Span(8, 9, "C")), (Span(1, 3, "D"),))[0] == "accept"


def test_a_linked_extension_touches_only_the_mentions_the_reviewer_checked(session):
    # HD is C in sentence 0 and, here, in sentence 2 too; sentence 1's HD is truly D.
    truth = [t.split() for t in TRUTH]
    truth[2] = "B-C O O O O O".split()
    hd = next(i for i in session.result.issues if i.type == "wrong_tag" and i.text == "HD" and i.index == 0)
    counts = review_with_truth(session, truth, [hd], budget=1, linked=True)
    assert counts["accept"] == 1 and counts["offered"] == 2 and counts["linked"] == 1
    rows = session.store.all()
    assert [(d.index, d.source) for d in rows] == [(0, "simulated"), (2, "propagated")]
    corrected = apply_decisions(session.result.corpus, session.store.effective()).corpus
    assert [corrected.sentences[i].tags[i == 1] for i in range(3)] == ["B-C", "B-D", "B-C"]
    # The issue the extension settled is decided, so the reviewer does not meet it again.
    settled = [i for i in session.result.issues if i.index == 2 and i.text == "HD"]
    assert settled and all(session.status(i) == "accept" for i in settled)
    again = review_with_truth(session, truth, settled, budget=1)
    assert again == {} and len(session.store.all()) == 2
