"""The decision log's SQLite schema and migrations.

The decision log's SQLite plumbing: its schema, the migration of older logs, and running
statements inside one transaction, retried while another writer holds the lock."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

SCHEMA_VERSION = 2

SCHEMA = """
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
    decided_at TEXT NOT NULL,
    uid TEXT,
    supersedes TEXT NOT NULL DEFAULT '[]',
    origin TEXT
);
CREATE INDEX IF NOT EXISTS decisions_issue ON decisions (issue_id);
"""
# Created after the version-1 migration has added the columns they index.
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS decisions_uid ON decisions (uid);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_origin ON decisions (origin);
"""


def migrate(connection: sqlite3.Connection) -> None:
    """Bring a version-1 log to version 2: every row gets a uid, and a reviewer's later decision
    on an issue supersedes their earlier one (what version 1 meant, though its replay did not)."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version < 2:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(decisions)")}
        for name, kind in (("uid", "TEXT"), ("supersedes", "TEXT NOT NULL DEFAULT '[]'"), ("origin", "TEXT")):
            if name not in columns:
                connection.execute(f"ALTER TABLE decisions ADD COLUMN {name} {kind}")
        last: dict[tuple[str, str], str] = {}
        rows = connection.execute("SELECT seq, issue_id, reviewer, action FROM decisions ORDER BY seq").fetchall()
        for seq, issue_id, reviewer, action in rows:
            uid = f"v1-{uuid.uuid4().hex}"
            supersedes: list[str] = []
            if action != "undo":
                if (issue_id, reviewer) in last:
                    supersedes = [last[(issue_id, reviewer)]]
                last[(issue_id, reviewer)] = uid
            connection.execute(
                "UPDATE decisions SET uid = ?, supersedes = ? WHERE seq = ?", (uid, json.dumps(supersedes), seq)
            )
    execute_all(connection, INDEXES)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def retry_locked(step, seconds: float = 30.0):
    """Run `step`, retrying while SQLite says the database is locked (up to `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def execute_all(connection: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (`executescript` would
    commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)
