"""Decisions a reviewer made on audit issues, stored durably in SQLite.

The store is an append-only log in `AUDIT_DIR/decisions.sqlite`: one row per decision, each
written in its own committed transaction (WAL journal, `synchronous=FULL`) before the caller
is told it is saved. Nothing is ever updated or deleted: an undo is a row of its own that
names the rows it retracts. Several processes (two reviewers on one audit) can write at once;
SQLite serialises their transactions and none is lost.

A decision records the whole sentence's spans before and after it, so the change it makes is
their difference; it is tied to its sentence by content (`sentence_key`: document id, tokens,
occurrence) and to the sentence's labels as audited (`sentence_hash`), never by position.
"""

from __future__ import annotations

import datetime
import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

from nerqa.corpus import Sentence
from nerqa.errors import NerqaError
from nerqa.files import writable_folder
from nerqa.tags import Span

DECISIONS_FILE = "decisions.sqlite"
SCHEMA_VERSION = 1

Action = Literal["accept", "keep", "edit", "skip", "undo"]
ACTIONS: tuple[str, ...] = get_args(Action)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id TEXT NOT NULL,
    sentence_key TEXT NOT NULL,
    sentence_hash TEXT NOT NULL,
    doc_id TEXT,
    sentence_index INTEGER,
    action TEXT NOT NULL CHECK (action IN ('accept', 'keep', 'edit', 'skip', 'undo')),
    spans_before TEXT NOT NULL,
    spans_after TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    source TEXT NOT NULL,
    batch TEXT,
    undoes TEXT NOT NULL DEFAULT '[]',
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_issue ON decisions (issue_id);
"""


def sentence_hash(sentence: Sentence) -> str:
    """A hash (16 hex digits) of a sentence's tokens and tags: changes when any label does."""
    return hashlib.sha256(json.dumps([sentence.tokens, sentence.tags], ensure_ascii=False).encode()).hexdigest()[:16]


def spans_to_json(spans: Iterable[Span]) -> str:
    return json.dumps([[s.start, s.end, s.label] for s in sorted(spans, key=lambda s: (s.start, s.end))], ensure_ascii=False)


def spans_from_json(text: str) -> tuple[Span, ...]:
    return tuple(Span(int(a), int(b), str(c)) for a, b, c in json.loads(text))


def default_reviewer() -> str:
    """The reviewer name when none is given: `$NERQA_REVIEWER`, else the login name."""
    try:
        return os.environ.get("NERQA_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


@dataclass(frozen=True)
class Decision:
    """One reviewer decision on one sentence.

    Attributes:
        issue_id: the stable id of the issue decided (a synthetic `pr-...` id for a
            propagated change where the audit raised no issue).
        sentence_key: the sentence's content key (`nerqa.issues.sentence_keys`).
        sentence_hash: `sentence_hash` of the sentence as audited (before any decision).
        action: accept (the suggestion), keep (the given labels), edit, skip, or undo.
        before, after: the sentence's spans (token offsets, end exclusive) before and after.
        reviewer, source: who decided, and how (`review`, `bulk`, `propagated`, `import:TOOL`).
        batch: decisions made by one keystroke or one command share a batch id.
        undoes: for an undo, the `seq` numbers it retracts.
        seq, decided_at: set by the store (order of recording; ISO 8601 UTC time).
    """

    issue_id: str
    sentence_key: str
    sentence_hash: str
    action: Action
    before: tuple[Span, ...]
    after: tuple[Span, ...]
    reviewer: str
    source: str = "review"
    doc_id: str | None = None
    index: int | None = None
    batch: str | None = None
    undoes: tuple[int, ...] = ()
    seq: int | None = None
    decided_at: str | None = None

    @property
    def removed(self) -> tuple[Span, ...]:
        """Spans the decision takes away."""
        after = set(self.after)
        return tuple(s for s in self.before if s not in after)

    @property
    def added(self) -> tuple[Span, ...]:
        """Spans the decision puts in."""
        before = set(self.before)
        return tuple(s for s in self.after if s not in before)

    @property
    def changes(self) -> bool:
        return bool(self.removed or self.added)

    def to_dict(self) -> dict:
        """A JSON-able record (`--export-decisions` writes one per line)."""
        return {
            "seq": self.seq, "issue_id": self.issue_id, "action": self.action, "reviewer": self.reviewer, "source": self.source,
            "decided_at": self.decided_at, "doc_id": self.doc_id, "index": self.index, "sentence_key": self.sentence_key,
            "sentence_hash": self.sentence_hash, "before": json.loads(spans_to_json(self.before)), "after": json.loads(spans_to_json(self.after)),
            "batch": self.batch, "undoes": list(self.undoes),
        }


class DecisionStore:
    """The decisions of one audit folder, in SQLite. Open with `DecisionStore.open(folder)`.

    `record` returns only after the decision's transaction is committed to disk.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, *, read_only: bool = False) -> None:
        self.path = path
        self.connection = connection
        self.read_only = read_only

    @classmethod
    def open(cls, folder: str | Path, *, read_only: bool = False) -> DecisionStore:
        """Open (or create) `FOLDER/decisions.sqlite`. `read_only` opens an existing one for reading.

        Raises `NerqaError` naming the file when it cannot be created, written or read.
        """
        path = Path(folder) / DECISIONS_FILE
        try:
            if read_only:
                if not path.exists():
                    raise NerqaError(f"{path}: no decisions recorded yet")
                connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None)
            else:
                if not Path(folder).is_dir():
                    raise NerqaError(f"{folder}: no such audit folder")
                try:
                    writable_folder(folder)  # a real write: permission bits do not stop root
                except NerqaError:
                    raise NerqaError(f"{path}: cannot record decisions here: the audit folder is read-only") from None
                connection = sqlite3.connect(path, timeout=30, isolation_level=None)
                # WAL: readers never block the writer; FULL: a commit is on disk when it returns.
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.executescript(_SCHEMA)
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                elif version != SCHEMA_VERSION:
                    raise NerqaError(f"{path}: decisions database version {version}; this nerqa reads version {SCHEMA_VERSION}")
            connection.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as error:
            raise NerqaError(f"{path}: cannot open the decisions database: {error}") from None
        return cls(path, connection, read_only=read_only)

    @classmethod
    def open_or_empty(cls, folder: str | Path) -> DecisionStore:
        """The folder's decisions, read-only; an empty store when none were recorded yet."""
        if (Path(folder) / DECISIONS_FILE).exists():
            return cls.open(folder, read_only=True)
        connection = sqlite3.connect(":memory:", isolation_level=None)
        connection.executescript(_SCHEMA)
        return cls(Path(folder) / DECISIONS_FILE, connection, read_only=True)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record(self, decision: Decision) -> Decision:
        """Store one decision in its own committed transaction; returns it with `seq` and time."""
        if self.read_only:
            raise NerqaError(f"{self.path}: opened read-only")
        if decision.action not in ACTIONS:
            raise NerqaError(f"unknown action {decision.action!r}; actions are {', '.join(ACTIONS)}")
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        try:
            # IMMEDIATE takes the write lock at once, so two writers queue instead of failing later.
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                cursor = self.connection.execute(
                    "INSERT INTO decisions (issue_id, sentence_key, sentence_hash, doc_id, sentence_index, action, spans_before, spans_after,"
                    " reviewer, source, batch, undoes, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (decision.issue_id, decision.sentence_key, decision.sentence_hash, decision.doc_id, decision.index, decision.action,
                     spans_to_json(decision.before), spans_to_json(decision.after), decision.reviewer, decision.source, decision.batch,
                     json.dumps(list(decision.undoes)), now),
                )
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as error:
            raise NerqaError(f"{self.path}: the decision was not saved: {error}") from None
        return replace(decision, seq=cursor.lastrowid, decided_at=now)

    def record_all(self, decisions: Sequence[Decision]) -> list[Decision]:
        """Store decisions one transaction each, in order."""
        return [self.record(d) for d in decisions]

    def all(self) -> list[Decision]:
        """Every row, undo rows included, in the order recorded."""
        try:
            rows = self.connection.execute(
                "SELECT seq, issue_id, sentence_key, sentence_hash, doc_id, sentence_index, action, spans_before, spans_after,"
                " reviewer, source, batch, undoes, decided_at FROM decisions ORDER BY seq"
            ).fetchall()
        except sqlite3.DatabaseError as error:
            raise NerqaError(f"{self.path}: cannot read the decisions: {error}") from None
        return [
            Decision(issue_id=r[1], sentence_key=r[2], sentence_hash=r[3], doc_id=r[4], index=r[5], action=r[6], before=spans_from_json(r[7]),
                     after=spans_from_json(r[8]), reviewer=r[9], source=r[10], batch=r[11], undoes=tuple(json.loads(r[12])), seq=r[0], decided_at=r[13])
            for r in rows
        ]

    def effective(self) -> list[Decision]:
        """The decisions in force: every non-undo row no undo retracts, in recording order."""
        rows = self.all()
        undone = {seq for d in rows if d.action == "undo" for seq in d.undoes}
        return [d for d in rows if d.action != "undo" and d.seq not in undone]

    def undo(self, decisions: Sequence[Decision], reviewer: str) -> Decision:
        """Record one undo row that retracts `decisions` (already recorded ones)."""
        if not decisions:
            raise NerqaError("nothing to undo")
        first = decisions[0]
        return self.record(Decision(
            issue_id=first.issue_id, sentence_key=first.sentence_key, sentence_hash=first.sentence_hash, action="undo",
            before=first.after, after=first.before, reviewer=reviewer, source=first.source, doc_id=first.doc_id, index=first.index,
            batch=first.batch, undoes=tuple(d.seq for d in decisions if d.seq is not None),
        ))


def latest_by_issue(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The latest of the given (effective) decisions for each issue id."""
    out: dict[str, Decision] = {}
    for d in decisions:
        out[d.issue_id] = d
    return out
