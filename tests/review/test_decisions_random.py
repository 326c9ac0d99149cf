"""A randomized test of the decision store under concurrency and a SIGKILL (see its module notes)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
from review_helpers import review_audit

from nerqa.data.tags import Span
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import DecisionStore
from nerqa.review.roundtrip import import_decision_log
from nerqa.review.session import Filters, ReviewSession

SEEDS = range(24)


def _worker(folder: str, reviewer: str, seed: int, journal: str, log: str, steps: int) -> None:
    """Random review work; each decision's uid goes to `journal` only after the store returned."""
    rng = random.Random(seed)
    audit = review_audit()
    session = ReviewSession(audit, DecisionStore.open(folder), reviewer)
    with open(journal, "a", encoding="utf-8") as told:

        def saved(decisions) -> None:
            for d in decisions:
                told.write(d.uid + "\n")
            told.flush()
            os.fsync(told.fileno())

        for _ in range(steps):
            session.refresh()
            issue = rng.choice(audit.issues)
            roll = rng.random()
            if roll < 0.55:
                action = rng.choice(["accept", "keep", "skip", "edit"])
                after = None
                if action == "edit":
                    length = len(audit.corpus.sentences[issue.index])
                    start = rng.randrange(length)
                    after = (Span(start, rng.randrange(start + 1, length + 1), rng.choice(["C", "D"])),)
                saved([session.decide(issue, action, after)])
            elif roll < 0.75:
                session.undo()
            elif roll < 0.88:
                saved(
                    session.bulk_accept(
                        Filters(types=frozenset({rng.choice(["wrong_tag", "ghost_span", "missed_span"])}))
                    )
                )
            else:
                recorded, _ = session.store.record_new(import_decision_log(session, Path(log)))
                saved(recorded)
            time.sleep(rng.random() * 0.01)


def _reference_log(folder: Path) -> Path:
    """A decision log from another copy of the audit (reviewer `carol`), to import."""
    store = DecisionStore.open(folder)
    session = ReviewSession(review_audit(), store, "carol")
    for issue in session.result.issues[:4]:
        session.decide(issue, "accept")
    session.decide(session.result.issues[0], "keep")
    path = folder / "carol.jsonl"
    path.write_text("".join(json.dumps(d.to_dict()) + "\n" for d in store.all()))
    store.close()
    return path


def expected_reading(rows) -> tuple[dict[str, str], list[set[tuple[int, int, str]]]]:
    """The intended semantics, from the raw rows: each issue's status and each sentence's spans."""
    retracted = set()
    for row in rows:
        if row.action == "undo":
            retracted.update(row.undoes)
    alive = [r for r in rows if r.action != "undo" and r.seq not in retracted]
    replaced = set()
    for r in alive:
        replaced.update(r.supersedes)
    by_issue: dict[str, list] = {}
    for r in alive:
        if r.uid not in replaced:
            by_issue.setdefault(r.issue_id, []).append(r)
    status, winners = {}, []
    for issue_id, heads in by_issue.items():
        real = [r for r in heads if r.action != "skip"]
        pool = real if real else heads
        last_of = {}
        for r in pool:
            if r.reviewer not in last_of or r.seq > last_of[r.reviewer].seq:
                last_of[r.reviewer] = r
        sides = list(last_of.values())
        if len({tuple(s.after) for s in sides}) > 1:
            status[issue_id] = "disagreement"
        else:
            winner = max(sides, key=lambda r: r.seq)
            status[issue_id] = winner.action
            winners.append(winner)
    corpus = review_audit().corpus
    spans = [{(s.start, s.end, s.label) for s in sentence.spans} for sentence in corpus.sentences]
    for r in sorted(winners, key=lambda r: r.seq):
        gone = {(s.start, s.end, s.label) for s in r.before} - {(s.start, s.end, s.label) for s in r.after}
        new = {(s.start, s.end, s.label) for s in r.after} - {(s.start, s.end, s.label) for s in r.before}
        if not gone <= spans[r.index]:
            continue
        rest = spans[r.index] - gone
        if any(a < e and s < b for s, e, _ in new for a, b, _ in rest):
            continue
        spans[r.index] = rest | new
    return status, spans


@pytest.mark.parametrize("seed", SEEDS)
def test_two_processes_and_a_kill_agree_with_the_model(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    (tmp_path / "carol").mkdir()
    log = _reference_log(tmp_path / "carol")
    folder = tmp_path / "audit"
    folder.mkdir()
    context = multiprocessing.get_context("fork")
    journals = [tmp_path / "alice.txt", tmp_path / "bob.txt"]
    workers = [
        context.Process(target=_worker, args=(str(folder), name, seed * 10 + n, str(journal), str(log), 40))
        for n, (name, journal) in enumerate(zip(("alice", "bob"), journals))
    ]
    for worker in workers:
        worker.start()
    victim = workers[rng.randrange(2)]
    time.sleep(rng.uniform(0.2, 1.5))
    if victim.is_alive():
        os.kill(victim.pid, signal.SIGKILL)
    for worker in workers:
        worker.join(60)
        assert not worker.is_alive()
    assert [w.exitcode for w in workers if w is not victim] == [0]

    store = DecisionStore.open(folder, read_only=True)
    rows = store.all()
    uids = {r.uid for r in rows}
    told = {line for journal in journals if journal.exists() for line in journal.read_text().split()}
    assert told <= uids, f"{len(told - uids)} decisions shown as saved are missing"
    assert len(uids) == len(rows)  # the imported log's decisions are each recorded once
    imported = [r for r in rows if r.reviewer == "carol"]
    assert len(imported) == len({r.uid for r in imported}) <= 5

    status, spans = expected_reading(rows)
    screen = ReviewSession(review_audit(), store, "observer")
    assert {i.id: screen.status(i) for i in screen.result.issues if screen.status(i)} == status
    assert [{(s.start, s.end, s.label) for s in screen.spans(i)} for i in range(len(spans))] == spans
    applied = apply_decisions(screen.result.corpus, store.effective()).corpus
    assert [{(s.start, s.end, s.label) for s in sentence.spans} for sentence in applied.sentences] == spans
