"""The backend's own SQLite store of annotations and trained models.

The backend's own SQLite store: every annotation Label Studio sent, and every model trained.

Annotations are kept as a history, one row per event (created, updated, deleted), each with a
sequence number. A model records the last sequence number it learned from, so the annotations
as of that number, and hence the retraining, can be rebuilt exactly after a restart.

A write is committed (WAL, `synchronous=FULL`) before the webhook that brought it is answered.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nerqa.errors import NerqaError

SCHEMA = """
CREATE TABLE IF NOT EXISTS annotations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    annotation_id INTEGER,
    text TEXT,
    spans TEXT,           -- JSON [[start, end, label], ...]; NULL: the task's annotation was deleted
    received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_task ON annotations (project, task_id, seq);
CREATE TABLE IF NOT EXISTS models (
    number INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,   -- base, fast or full
    folder TEXT,
    through_seq INTEGER NOT NULL,
    annotations INTEGER NOT NULL,
    seconds REAL,
    status TEXT NOT NULL, -- ok or failed
    error TEXT,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Annotation:
    """A task's current annotation: `spans` are `(start, end, label)` character spans of `text`."""

    project: str
    task_id: int
    annotation_id: int | None
    text: str
    spans: tuple[tuple[int, int, str], ...]
    seq: int


@dataclass(frozen=True)
class ModelRecord:
    """A trained model: `through_seq` is the last annotation event it learned from, `kind`
    `base` (the model served at first), `fast` (a head on the frozen encoder) or `full`."""

    number: int
    version: str
    kind: str
    folder: str | None
    through_seq: int
    annotations: int
    seconds: float | None
    status: str
    error: str | None


class AnnotationStore:
    """`annotations.sqlite` in the backend's folder. Safe to use from several threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise NerqaError(f"{self.path}: cannot open the annotation store: {error}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, values: Sequence) -> int:
        with self._lock:
            cursor = self._db.execute(sql, values)
            return int(cursor.lastrowid or 0)

    def put(
        self, project: str, task_id: int, annotation_id: int | None, text: str, spans: Sequence[tuple[int, int, str]]
    ) -> int:
        """Record a task's annotation (it replaces the task's earlier one); returns its sequence number.

        Args:
            project: the Label Studio project.
            task_id: the task's id.
            annotation_id: the annotation's id, when Label Studio gave one.
            text: the task's text.
            spans: `(start, end, label)` in characters.
        """
        return self._write(
            "INSERT INTO annotations (project, task_id, annotation_id, text, spans, received) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (project, task_id, annotation_id, text, json.dumps([list(s) for s in spans]), time.time()),
        )

    def delete(self, project: str, annotation_id: int) -> int | None:
        """Record that annotation `annotation_id` was deleted, if it is a task's current one;
        returns the event's sequence number, or None when it was not (nothing to forget).

        Args:
            project: the Label Studio project.
            annotation_id: the deleted annotation's id.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT task_id, annotation_id, spans FROM annotations a WHERE project = ? AND seq = "
                "(SELECT MAX(seq) FROM annotations b WHERE b.project = a.project AND b.task_id = a.task_id) "
                "AND annotation_id = ? AND spans IS NOT NULL",
                (project, annotation_id),
            ).fetchone()
            if row is None:
                return None
            cursor = self._db.execute(
                "INSERT INTO annotations (project, task_id, annotation_id, text, spans, received) "
                "VALUES (?, ?, ?, NULL, NULL, ?)",
                (project, row[0], annotation_id, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def last_seq(self) -> int:
        """The latest event's sequence number (0 when empty)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM annotations").fetchone()[0])

    def annotations(self, *, through: int | None = None) -> list[Annotation]:
        """Each task's annotation as of event `through` (default: the latest), deleted ones
        left out, in (project, task id) order: the same list every time for one `through`.

        Args:
            through: an event's sequence number (default: the latest).
        """
        through = self.last_seq() if through is None else through
        with self._lock:
            rows = self._db.execute(
                "SELECT project, task_id, annotation_id, text, spans, seq FROM annotations a WHERE seq = "
                "(SELECT MAX(seq) FROM annotations b WHERE b.project = a.project AND b.task_id = a.task_id "
                "AND b.seq <= ?) ORDER BY project, task_id",
                (through,),
            ).fetchall()
        return [
            Annotation(p, t, a, text, tuple((s, e, label) for s, e, label in json.loads(spans)), seq)
            for p, t, a, text, spans, seq in rows
            if spans is not None
        ]

    def changes_since(self, seq: int) -> int:
        """How many annotation events came after event `seq`.

        Args:
            seq: an event's sequence number.
        """
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM annotations WHERE seq > ?", (seq,)).fetchone()[0])

    def add_model(
        self,
        version: str,
        kind: str,
        folder: str | None,
        through_seq: int,
        annotations: int,
        *,
        seconds: float | None = None,
        status: str = "ok",
        error: str | None = None,
    ) -> ModelRecord:
        """Record a trained (or failed) model; returns its record.

        Args:
            version: the model's version name.
            kind: `fast` or `full`.
            folder: where it was saved (None when it failed).
            through_seq: the last annotation event it was trained on.
            annotations: how many annotations it was trained on.
            seconds: its training time.
            status: `ok` or `failed`.
            error: the failure's message.
        """
        number = self.next_number()
        self._write(
            "INSERT INTO models (number, version, kind, folder, through_seq, annotations, seconds, status, error, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (number, version, kind, folder, through_seq, annotations, seconds, status, error, time.time()),
        )
        return ModelRecord(number, version, kind, folder, through_seq, annotations, seconds, status, error)

    def next_number(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(number), -1) + 1 FROM models").fetchone()[0])

    def models(self) -> list[ModelRecord]:
        """Every model, oldest first, failed ones included."""
        with self._lock:
            rows = self._db.execute(
                "SELECT number, version, kind, folder, through_seq, annotations, seconds, status, error FROM models "
                "ORDER BY number"
            ).fetchall()
        return [ModelRecord(*row) for row in rows]

    def latest_model(self) -> ModelRecord | None:
        """The newest model that trained without error."""
        good = [m for m in self.models() if m.status == "ok"]
        return good[-1] if good else None
