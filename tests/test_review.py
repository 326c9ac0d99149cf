"""The review library: the decision store, the session (accept, keep, edit, skip, undo,
propagation, bulk) and applying decisions to the corpus."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from review_helpers import review_audit, review_corpus

from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import Decision, DecisionStore, spans_to_json
from nerqa.review.session import Filters, ReviewSession


@pytest.fixture
def session(tmp_path: Path) -> ReviewSession:
    return ReviewSession(review_audit(), DecisionStore.open(tmp_path), "alice")


def issue_of(session: ReviewSession, kind: str, text: str):
    return next(i for i in session.result.issues if i.type == kind and i.text == text)


def spans_of(corpus, index):
    return [(s.start, s.end, s.label) for s in corpus.sentences[index].spans]


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


def test_reviewers_who_differ_on_an_issue_disagree_until_a_decision_resolves_it(tmp_path: Path):
    audit = review_audit()
    alice = ReviewSession(audit, DecisionStore.open(tmp_path), "alice")
    bob = ReviewSession(audit, DecisionStore.open(tmp_path), "bob")
    hd = issue_of(alice, "wrong_tag", "HD")
    bob.bulk_accept(Filters(types=frozenset({"wrong_tag"})))  # bob accepts HD -> C in bulk
    alice.refresh()
    alice.decide(hd, "keep")  # alice saw it and keeps D
    for session in (alice, bob):
        session.refresh()
        assert session.status(hd) == "disagreement" and session.counts()["disagreement"] == 1
    store = DecisionStore.open(tmp_path)
    assert spans_of(apply_decisions(audit.corpus, store.effective()).corpus, 0)[0] == (0, 1, "D")  # not applied
    assert list(store.standing().disagreements) == [hd.id]
    assert spans_of(apply_decisions(audit.corpus, store.effective(resolve="latest")).corpus, 0)[0] == (0, 1, "D")
    assert spans_of(apply_decisions(audit.corpus, store.effective(resolve="bob")).corpus, 0)[0] == (0, 1, "C")
    sides = {d.uid for d in store.standing().disagreements[hd.id].decisions}
    agreeing = ReviewSession(audit, DecisionStore.open(tmp_path), "carol")
    resolution = agreeing.decide(hd, "accept")  # carol decides on the disagreement
    assert len(sides) == 2 and set(resolution.supersedes) == sides
    assert store.standing().disagreements == {} and agreeing.status(hd) == "accept"
    assert spans_of(apply_decisions(audit.corpus, store.effective()).corpus, 0)[0] == (0, 1, "C")


def test_the_same_decision_by_two_reviewers_is_no_disagreement(tmp_path: Path):
    audit = review_audit()
    alice = ReviewSession(audit, DecisionStore.open(tmp_path), "alice")
    bob = ReviewSession(audit, DecisionStore.open(tmp_path), "bob")
    hd = issue_of(alice, "wrong_tag", "HD")
    alice.decide(hd, "accept")
    bob.decide(hd, "accept")
    bob.decide(issue_of(bob, "ghost_span", "cancer"), "skip")
    alice.decide(issue_of(alice, "ghost_span", "cancer"), "keep")  # a skip never outvotes a decision
    store = DecisionStore.open(tmp_path)
    assert store.standing().disagreements == {} and [d.action for d in store.effective()] == ["accept", "keep"]


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


def _write_many(folder: str, reviewer: str, n: int) -> None:
    store = DecisionStore.open(folder)
    for i in range(n):
        store.record(Decision(f"x-{reviewer}-{i}", "k", "h", "keep", (), (), reviewer))


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path):
    DecisionStore.open(tmp_path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), name, 150)) for name in ("alice", "bob")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    rows = DecisionStore.open(tmp_path, read_only=True).all()
    assert len(rows) == 300 and len({d.seq for d in rows}) == 300
    assert sorted(d.issue_id for d in rows if d.reviewer == "alice") == sorted(f"x-alice-{i}" for i in range(150))


def test_read_only_folders_and_bad_spans_give_clear_errors(read_only_folder: Path, session):
    with pytest.raises(NerqaError, match="cannot record decisions here: the audit folder is read-only"):
        DecisionStore.open(read_only_folder)
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["existing.txt"]
    with pytest.raises(NerqaError, match="outside the sentence"):
        session.decide(issue_of(session, "wrong_tag", "HD"), "edit", [Span(4, 9, "D")])
    with pytest.raises(NerqaError, match="overlap"):
        session.decide(issue_of(session, "wrong_tag", "HD"), "edit", [Span(0, 2, "D"), Span(1, 3, "D")])
    assert session.store.all() == []


def test_the_database_is_sqlite_in_wal_mode(session):
    connection = sqlite3.connect(session.store.path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_log_is_migrated_and_a_later_decision_replaces_the_earlier(tmp_path: Path):
    v1 = """CREATE TABLE decisions (seq INTEGER PRIMARY KEY AUTOINCREMENT, issue_id TEXT NOT NULL,
        sentence_key TEXT NOT NULL, sentence_hash TEXT NOT NULL, doc_id TEXT, sentence_index INTEGER,
        action TEXT NOT NULL, spans_before TEXT NOT NULL, spans_after TEXT NOT NULL, reviewer TEXT NOT NULL,
        source TEXT NOT NULL, batch TEXT, undoes TEXT NOT NULL DEFAULT '[]', decided_at TEXT NOT NULL);
        PRAGMA user_version=1;"""
    session = ReviewSession(review_audit(), DecisionStore.open_or_empty(tmp_path / "none"), "alice")
    hd = issue_of(session, "wrong_tag", "HD")
    accept = session.make_decision(hd.id, 0, "accept", session.suggestion(hd), source="review", batch="a")
    keep = session.make_decision(hd.id, 0, "keep", session.spans(0), source="review", batch="b")
    connection = sqlite3.connect(tmp_path / "decisions.sqlite")
    connection.executescript(v1)
    for d in (accept, keep):
        connection.execute(
            "INSERT INTO decisions (issue_id, sentence_key, sentence_hash, doc_id, sentence_index, action, "
            "spans_before,"
            " spans_after, reviewer, source, batch, undoes, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, '[]', 'then')",
            (
                d.issue_id,
                d.sentence_key,
                d.sentence_hash,
                d.doc_id,
                d.index,
                d.action,
                spans_to_json(d.before),
                spans_to_json(d.after),
                d.reviewer,
                d.source,
                d.batch,
            ),
        )
    connection.commit()
    connection.close()
    read = DecisionStore.open(tmp_path, read_only=True)  # migrated in memory, the file left as it was
    assert [d.action for d in read.effective()] == ["keep"]
    assert sqlite3.connect(tmp_path / "decisions.sqlite").execute("PRAGMA user_version").fetchone()[0] == 1
    store = DecisionStore.open(tmp_path)
    rows = store.all()
    assert [d.action for d in store.effective()] == ["keep"] and rows[1].supersedes == (rows[0].uid,)
    assert sqlite3.connect(tmp_path / "decisions.sqlite").execute("PRAGMA user_version").fetchone()[0] == 2
