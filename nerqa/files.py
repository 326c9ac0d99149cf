"""Atomic file writes: a file is either its old self or completely new, never half-written.

Every writer in nerqa goes through `atomic_write`: the content goes to a temporary file in the
target's folder (same file system, so the final rename is atomic), is flushed to disk, and is
renamed over the target. On any failure the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nerqa.errors import NerqaError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a written file should get the mode any new file gets here (0644
# under the usual umask), so that a second reviewer can read a shared audit folder.
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on a clean exit it replaces `path`.

    Raises `NerqaError` (one line naming the folder) when the folder cannot be created or
    written to, so the CLI reports an unwritable output folder without a traceback.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise NerqaError(f"{path.parent}: cannot write here: {error.strerror or error}") from None
    try:
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else _FILE_MODE)
        with os.fdopen(
            handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})
        ) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder` to fill; on a clean exit it replaces
    `folder` (an old one is moved aside, then removed), on any failure it is removed. So a
    failed write leaves no half-written folder (a model, a dataset).

    Raises `NerqaError` (one line naming the parent folder) when it cannot be written to.
    """
    import shutil

    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as error:
        raise NerqaError(f"{folder.parent}: cannot write here: {error.strerror or error}") from None
    try:
        yield staging
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8, `\\n` line ends) to `path` atomically."""
    with atomic_write(path) as stream:
        stream.write(text)


def writable_folder(folder: str | Path) -> Path:
    """Create `folder` if needed and check that files can be written in it.

    Called before long work, so that an unwritable output folder fails in the first second
    rather than after an hour of training.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NerqaError(f"{folder}: cannot write here: {error.strerror or error}") from None
    _probe_write(folder, folder)
    return folder


def _probe_write(folder: Path, where: Path) -> None:
    """Create and remove a file in `where`; an error names `folder`, the folder asked for.
    A real write, because permission bits do not stop root."""
    try:
        handle, probe = tempfile.mkstemp(dir=where, prefix=".nerqa-write-check.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise NerqaError(f"{folder}: cannot write here: {error.strerror or error}") from None


def check_writable(folder: str | Path) -> Path:
    """Check, creating nothing, that `folder` could be created (if missing) and written to:
    the nearest folder that exists must take a new file. For commands that must leave
    nothing behind when they fail later."""
    folder = Path(folder)
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NerqaError(f"{folder}: cannot write here: {existing} is a file, not a folder")
    _probe_write(folder, existing)
    return folder


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write every `(path, text)` atomically, in order; returns the paths."""
    for path, text in files.items():
        atomic_write_text(path, text)
    return list(files)
