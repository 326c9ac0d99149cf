"""The decision store and its one reading (`nerqa.review.decisions`)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from review_helpers import issue_of, review_audit, spans_of

from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import Decision, DecisionStore, spans_to_json
from nerqa.review.session import Filters, ReviewSession


def _write_many(folder: str, reviewer: str, n: int) -> None:
    store = DecisionStore.open(folder)
    for i in range(n):
        store.record(Decision(f"x-{reviewer}-{i}", "k", "h", "keep", (), (), reviewer))


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


def test_an_empty_database_file_holds_no_decisions_for_readers_and_is_initialised_by_writers(tmp_path: Path):
    (tmp_path / "decisions.sqlite").write_bytes(b"")
    with pytest.raises(NerqaError, match=r"decisions.sqlite: no decisions recorded yet \(the database is empty\)"):
        DecisionStore.open(tmp_path, read_only=True)
    with DecisionStore.open(tmp_path) as store:  # what relabel does with the same file
        assert store.all() == []
    with DecisionStore.open(tmp_path, read_only=True) as store:
        assert store.all() == []
    other = tmp_path / "other"
    other.mkdir()
    connection = sqlite3.connect(other / "decisions.sqlite")
    connection.execute("CREATE TABLE notes (text)")
    connection.close()
    with pytest.raises(NerqaError, match="not a nerqa decisions database"):
        DecisionStore.open(other, read_only=True)
