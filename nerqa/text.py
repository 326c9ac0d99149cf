"""Small helpers for the sentences nerqa writes for people.

Small helpers for the sentences nerqa writes for people (log lines, reasons, messages)."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """`n` with its noun in the right number: `1 sentence`, `2 sentences`, `3 entities`."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"
