"""The errors nerqa raises.

Errors nerqa raises. The CLI turns every `NerqaError` into one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


class NerqaError(Exception):
    """Base class: a problem the user can fix (bad input, missing model, bad option)."""


class CorpusFormatError(NerqaError):
    """A corpus file is malformed.

    `line` is 1-based: a line number for line formats, the record number for JSONL (one
    record a line, so both agree). `None` when the problem concerns the whole file.
    """

    def __init__(self, path: str | Path | None, line: int | None, reason: str) -> None:
        self.path = str(path) if path is not None else "<text>"
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {reason}")


class FormatDetectionError(NerqaError):
    """The format of a corpus path could not be told from its name or content."""


class ModelError(NerqaError):
    """A model folder is missing, malformed or incompatible with the corpus."""


class ConfigError(NerqaError):
    """A setting is out of range or not one of its choices. Raised when settings are built,
    before any corpus is read or any model is loaded."""


class AuditFolderError(NerqaError):
    """An audit folder is missing a file of the output contract, is damaged, or belongs to
    another corpus."""
