"""Decisions a reviewer made on audit issues, stored durably in SQLite.

The store is an append-only log in `AUDIT_DIR/decisions.sqlite`: one row per decision, each
written in its own committed transaction (WAL journal, `synchronous=FULL`) before the caller
is told it is saved. Nothing is ever updated or deleted: an undo is a row of its own that
names the rows it retracts. Several processes (two reviewers on one audit) can write at once;
SQLite serialises their transactions and none is lost.

What the log means (`standing`), the one reading that the review app, bulk acceptance,
imports and `apply` share:
- a decision is *live* unless an undo retracts it;
- a live decision that names earlier ones in `supersedes` (by their `uid`) takes their place:
  a reviewer's new decision on an issue supersedes their own earlier one, and a decision made
  on a disagreement supersedes every side of it;
- per issue, the live decisions nothing live supersedes are its *heads*. One head, or heads
  that leave the sentence the same, is the decision in force. Heads of different reviewers
  that differ are a `Disagreement`: listed, reported, and never applied until a decision
  resolves it or `apply --resolve latest|REVIEWER` chooses. A skip never outvotes a decision.
- Undoing a superseding decision puts the one it superseded back in force.

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
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from nerqa.auditing.folder import DECISIONS_FILE
from nerqa.data.corpus import Sentence
from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.files import writable_folder
from nerqa.review.logdb import INDEXES, SCHEMA, SCHEMA_VERSION, execute_all, migrate, retry_locked

Action = Literal["accept", "keep", "edit", "skip", "undo"]
# The source of the automatic fixes (`nerqa autofix`, `nerqa.review.autofix`): decisions no person
# made. A person's decision on the same issue always wins over one (`standing`).
AUTO_SOURCE = "auto"
ACTIONS: tuple[str, ...] = get_args(Action)

_COLUMNS = (
    "seq, issue_id, sentence_key, sentence_hash, doc_id, sentence_index, action, spans_before, spans_after, reviewer,"
    " source, batch, undoes, decided_at, uid, supersedes, origin"
)


def sentence_hash(sentence: Sentence) -> str:
    """A hash (16 hex digits) of a sentence's tokens and tags: changes when any label does."""
    return hashlib.sha256(json.dumps([sentence.tokens, sentence.tags], ensure_ascii=False).encode()).hexdigest()[:16]


def spans_to_json(spans: Iterable[Span]) -> str:
    return json.dumps(
        [[s.start, s.end, s.label] for s in sorted(spans, key=lambda s: (s.start, s.end))], ensure_ascii=False
    )


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
        sentence_key: the sentence's content key (`nerqa.auditing.issues.sentence_keys`).
        sentence_hash: `sentence_hash` of the sentence as audited (before any decision).
        action: accept (the suggestion), keep (the given labels), edit, skip, or undo.
        before, after: the sentence's spans (token offsets, end exclusive) before and after.
        reviewer, source: who decided, and how (`review`, `bulk`, `propagated`, `import:TOOL`, or
            `simulated`: `nerqa.review.simulate`).
        batch: decisions made by one keystroke or one command share a batch id.
        undoes: for an undo, the `seq` numbers it retracts.
        supersedes: the `uid`s of the earlier decisions on this issue that this one replaces.
        uid: a global id (kept when a decision log is imported into another copy).
        origin: where an imported decision came from (`labelstudio:task=3:annotation=7`, or
            the exported decision's uid); a store holds each origin once.
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
    supersedes: tuple[str, ...] = ()
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    origin: str | None = None
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
        """A JSON-able record (`nerqa decisions export` writes one per line)."""
        return {
            "seq": self.seq,
            "uid": self.uid,
            "issue_id": self.issue_id,
            "action": self.action,
            "reviewer": self.reviewer,
            "source": self.source,
            "decided_at": self.decided_at,
            "doc_id": self.doc_id,
            "index": self.index,
            "sentence_key": self.sentence_key,
            "sentence_hash": self.sentence_hash,
            "before": json.loads(spans_to_json(self.before)),
            "after": json.loads(spans_to_json(self.after)),
            "batch": self.batch,
            "undoes": list(self.undoes),
            "supersedes": list(self.supersedes),
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Disagreement:
    """Reviewers' decisions on one issue that differ and that no decision has resolved:
    `decisions` are its sides, oldest first."""

    issue_id: str
    decisions: tuple[Decision, ...]

    @property
    def reviewers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.reviewer for d in self.decisions))


@dataclass
class Standing:
    """The reading of a decision log.

    Attributes:
        in_force: one decision per decided issue (none for an open disagreement), in
            recording order: what the screen shows and `apply` writes.
        disagreements: the open disagreements, by issue, in the order they arose.
        heads: every issue's live, unsuperseded decisions (one for most issues).
        live: every decision no undo retracts, in recording order.
    """

    in_force: list[Decision]
    disagreements: dict[str, Disagreement]
    heads: dict[str, list[Decision]]
    live: list[Decision]


def standing(rows: Sequence[Decision], *, resolve: str | None = None) -> Standing:
    """Read a log (`DecisionStore.all()`, in recording order) as the module docstring says.

    `resolve` settles open disagreements instead of holding them back: `"latest"` takes the
    most recent side, any other value is a reviewer whose side is taken (a disagreement that
    reviewer has no side in stays open).

    Args:
        rows: the log, in recording order.
        resolve: settle open disagreements: `"latest"` or a reviewer's name (see `standing`); None holds them back.
    """
    undone = {seq for d in rows if d.action == "undo" for seq in d.undoes}
    live = [d for d in rows if d.action != "undo" and d.seq not in undone]
    superseded = {uid for d in live for uid in d.supersedes}
    heads: dict[str, list[Decision]] = {}
    for d in live:
        if d.uid not in superseded:
            heads.setdefault(d.issue_id, []).append(d)
    chosen: list[Decision] = []
    disagreements: dict[str, Disagreement] = {}
    for issue_id, sides in heads.items():
        decided = [d for d in sides if d.action != "skip"] or sides
        decided = [d for d in decided if d.source != AUTO_SOURCE] or decided  # a person wins over autofix
        # One side per reviewer: the same reviewer in two windows at once means the later one.
        latest = list({d.reviewer: d for d in decided}.values())
        if len({d.after for d in latest}) <= 1:
            chosen.append(max(latest, key=lambda d: d.seq or 0))
            continue
        pick = None
        if resolve == "latest":
            pick = max(latest, key=lambda d: d.seq or 0)
        elif resolve is not None:
            pick = next((d for d in latest if d.reviewer == resolve), None)
        if pick is None:
            disagreements[issue_id] = Disagreement(issue_id, tuple(sorted(latest, key=lambda d: d.seq or 0)))
        else:
            chosen.append(pick)
    chosen.sort(key=lambda d: d.seq or 0)
    return Standing(chosen, disagreements, heads, live)


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
                    raise NerqaError(
                        f"{path}: no decisions recorded yet; review the issues first (nerqa relabel CORPUS "
                        f"{path.parent}, or nerqa accept CORPUS {path.parent})"
                    )
                connection = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None
                )
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    # Version 0 is a database nerqa never initialised: an empty file (which a
                    # writer would initialise) holds no decisions; anything else is not nerqa's.
                    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                    connection.close()
                    if tables == 0:
                        raise NerqaError(
                            f"{path}: no decisions recorded yet (the database is empty); review the issues first "
                            f"(nerqa relabel CORPUS {path.parent})"
                        )
                    raise NerqaError(f"{path}: not a nerqa decisions database (it holds other tables)")
                if version not in (1, SCHEMA_VERSION):
                    raise NerqaError(
                        f"{path}: decisions database version {version}; this nerqa reads version {SCHEMA_VERSION}"
                    )
                if version == 1:
                    # Read-only: migrate a copy in memory, leave the file as it is.
                    memory = sqlite3.connect(":memory:", isolation_level=None)
                    connection.backup(memory)
                    connection.close()
                    connection = memory
                    migrate(connection)
            else:
                if not Path(folder).is_dir():
                    raise NerqaError(f"{folder}: no such audit folder")
                try:
                    writable_folder(folder)  # a real write: permission bits do not stop root
                except NerqaError:
                    raise NerqaError(f"{path}: cannot record decisions here: the audit folder is read-only") from None
                connection = sqlite3.connect(path, timeout=30, isolation_level=None)
                # WAL: readers never block the writer; FULL: a commit is on disk when it returns.
                # Switching to WAL needs a moment alone with the file and does not wait for
                # another process opening it at once: retry.
                retry_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("PRAGMA busy_timeout=30000")
                connection.execute("BEGIN IMMEDIATE")
                try:
                    version = connection.execute("PRAGMA user_version").fetchone()[0]
                    if version not in (0, 1, SCHEMA_VERSION):
                        raise NerqaError(
                            f"{path}: decisions database version {version}; this nerqa reads version {SCHEMA_VERSION}"
                        )
                    if version == 0:
                        execute_all(connection, SCHEMA)
                    if version < SCHEMA_VERSION:
                        migrate(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
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
        execute_all(connection, SCHEMA + INDEXES)
        return cls(Path(folder) / DECISIONS_FILE, connection, read_only=True)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record(self, decision: Decision) -> Decision:
        """Store one decision in its own committed transaction; returns it with `seq` and time.

        Args:
            decision: the decision to store (its `seq` and time are set here).
        """
        recorded = self._insert([decision], ignore_known=False)
        return recorded[0]

    def record_all(self, decisions: Sequence[Decision]) -> list[Decision]:
        """Store decisions in one committed transaction, in order (all or none).

        Args:
            decisions: the decisions, in order.

        Returns:
            The decisions as stored, with `seq` and time.
        """
        return self._insert(decisions, ignore_known=False)

    def record_new(self, decisions: Sequence[Decision]) -> tuple[list[Decision], int]:
        """Store the decisions whose `uid` and `origin` the store does not hold yet, in one
        transaction; returns those recorded and how many were already there (re-imports).

        Args:
            decisions: decisions from another copy's log (an import).
        """
        recorded = self._insert(decisions, ignore_known=True)
        return recorded, len(decisions) - len(recorded)

    def _insert(self, decisions: Sequence[Decision], *, ignore_known: bool) -> list[Decision]:
        if self.read_only:
            raise NerqaError(f"{self.path}: opened read-only")
        for decision in decisions:
            if decision.action not in ACTIONS:
                raise NerqaError(f"unknown action {decision.action!r}; actions are {', '.join(ACTIONS)}")
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        out = []
        try:
            # IMMEDIATE takes the write lock at once, so two writers queue instead of failing later.
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                for decision in decisions:
                    if (
                        ignore_known
                        and self.connection.execute(
                            "SELECT 1 FROM decisions WHERE uid = ? OR (origin IS NOT NULL AND origin = ?)",
                            (decision.uid, decision.origin),
                        ).fetchone()
                    ):
                        continue
                    cursor = self.connection.execute(
                        f"INSERT INTO decisions ({_COLUMNS.split(', ', 1)[1]}) VALUES ({', '.join('?' * 16)})",
                        (
                            decision.issue_id,
                            decision.sentence_key,
                            decision.sentence_hash,
                            decision.doc_id,
                            decision.index,
                            decision.action,
                            spans_to_json(decision.before),
                            spans_to_json(decision.after),
                            decision.reviewer,
                            decision.source,
                            decision.batch,
                            json.dumps(list(decision.undoes)),
                            now,
                            decision.uid,
                            json.dumps(list(decision.supersedes)),
                            decision.origin,
                        ),
                    )
                    out.append(replace(decision, seq=cursor.lastrowid, decided_at=now))
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as error:
            raise NerqaError(f"{self.path}: the decisions were not saved: one was recorded already ({error})") from None
        except sqlite3.DatabaseError as error:
            raise NerqaError(f"{self.path}: the decision was not saved: {error}") from None
        return out

    def all(self) -> list[Decision]:
        """Every row, undo rows included, in the order recorded."""
        try:
            rows = self.connection.execute(f"SELECT {_COLUMNS} FROM decisions ORDER BY seq").fetchall()
        except sqlite3.DatabaseError as error:
            raise NerqaError(f"{self.path}: cannot read the decisions: {error}") from None
        return [
            Decision(
                issue_id=r[1],
                sentence_key=r[2],
                sentence_hash=r[3],
                doc_id=r[4],
                index=r[5],
                action=r[6],
                before=spans_from_json(r[7]),
                after=spans_from_json(r[8]),
                reviewer=r[9],
                source=r[10],
                batch=r[11],
                undoes=tuple(json.loads(r[12])),
                seq=r[0],
                decided_at=r[13],
                uid=r[14],
                supersedes=tuple(json.loads(r[15])),
                origin=r[16],
            )
            for r in rows
        ]

    def standing(self, *, resolve: str | None = None) -> Standing:
        """`standing(self.all(), resolve=resolve)`.

        Args:
            resolve: settle open disagreements: `"latest"` or a reviewer's name (see `standing`); None holds them
                back.
        """
        return standing(self.all(), resolve=resolve)

    def effective(self, *, resolve: str | None = None) -> list[Decision]:
        """The decisions in force, in recording order (open disagreements left out).

        Args:
            resolve: settle open disagreements: `"latest"` or a reviewer's name (see `standing`); None holds them
                back.
        """
        return self.standing(resolve=resolve).in_force

    def undo(self, decisions: Sequence[Decision], reviewer: str) -> Decision:
        """Record one undo row that retracts `decisions` (already recorded ones).

        Args:
            decisions: the recorded decisions to retract.
            reviewer: who undoes them.

        Returns:
            The undo row, as stored.
        """
        if not decisions:
            raise NerqaError("nothing to undo")
        first = decisions[0]
        return self.record(
            Decision(
                issue_id=first.issue_id,
                sentence_key=first.sentence_key,
                sentence_hash=first.sentence_hash,
                action="undo",
                before=first.after,
                after=first.before,
                reviewer=reviewer,
                source=first.source,
                doc_id=first.doc_id,
                index=first.index,
                batch=first.batch,
                undoes=tuple(d.seq for d in decisions if d.seq is not None),
            )
        )
