"""The output rule: nothing a user already had is destroyed.

The one output rule every nerqa command keeps: nothing a user already had is destroyed.

Files (`atomic_write`):
- the content goes to a temporary file beside the target, is flushed to disk and renamed over
  it, so a file is either its old self or completely new, never half-written;
- a symbolic link is written through: the file it names (existing or not) is replaced, the
  link stays a link;
- a target that is not a regular file (`/dev/stdout`, `/dev/null`, a named pipe) is written
  straight into, as `cat > target` would;
- a stream (the CLI passes standard output for `-`) is written into and left open; a path
  named `-` is refused, so that no file of that name appears by mistake;
- a new file gets the mode the umask gives any new file; a replaced one keeps its mode.

Folders (`atomic_folder` for a folder written whole, `claim_folder` for one filled over time):
- a new folder is built in a temporary sibling and renamed into place;
- an existing folder is written into only when it is empty or holds nothing but what nerqa
  wrote there (listed in its `.nerqa-output.json`, plus the names its kind owns); one that
  holds other files is refused in one line, or, with `force`, written into beside them;
- an existing folder is never emptied and keeps its mode; new folders and files follow the
  umask.

Every refusal is a `NerqaError` naming the path, raised before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from nerqa.errors import NerqaError

STDOUT = "-"
MANIFEST = ".nerqa-output.json"


def _umask() -> int:
    """The process's umask, read where the system shows it (Linux: /proc/self/status), else set
    and restored at once. Read when a file is written, never at import."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files and mkdtemp 0700 folders; a written file or folder should get the
# mode any new one gets here (0644 / 0755 under the usual umask), so that a second reviewer
# can read a shared audit folder.
def _file_mode() -> int:
    return 0o666 & ~_umask()


def _dir_mode() -> int:
    return 0o777 & ~_umask()


def is_stdout(path: object) -> bool:
    """Whether an output names standard output: `-` as the commands take it, or a stream."""
    return is_stream(path) or str(path) == STDOUT


def is_stream(target: object) -> bool:
    """Whether an output is an open stream (standard output, for `-`) rather than a path."""
    return hasattr(target, "write")


def _cannot_write(where: Path, error: OSError) -> NerqaError:
    return NerqaError(f"{where}: cannot write here: {error.strerror or error}")


def _file_target(path: Path) -> Path:
    """The file a write to `path` replaces: `path`, or for a symbolic link the file it names
    (followed to the end, a dangling link included). Refuses a folder."""
    if path.is_dir():
        raise NerqaError(f"{path}: is a folder, expected a file")
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _is_special(path: Path) -> bool:
    """Whether `path` exists and is no regular file or folder (a device, a pipe, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class _Unclosed:
    """A stream that forwards to another and leaves it open on close (standard output)."""

    def __init__(self, stream: IO) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def close(self) -> None:
        self._stream.flush()


@contextlib.contextmanager
def atomic_write(path: str | Path | IO, *, binary: bool = False) -> Iterator[IO]:
    """Open `path` for writing under the output rule (module docstring); on a clean exit the
    content replaces the file, on any failure the file is left as it was. A stream is written
    into (its binary `buffer` for `binary`) and left open.

    Raises `NerqaError` (one line naming the path) when the target is a folder or its folder
    cannot be created or written to, so the CLI reports it without a traceback.
    """
    if is_stream(path):
        stream = path.buffer if binary and hasattr(path, "buffer") else path  # type: ignore[union-attr]
        yield _Unclosed(stream)  # type: ignore[arg-type]
        stream.flush()
        return
    if str(path) == STDOUT:
        raise NerqaError("-: pass a stream to write to standard output (a file named '-' is never made)")
    path = Path(path)
    target = path if _is_special(path) else _file_target(path)
    if _is_special(target):
        try:
            handle = open(target, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"}))
        except OSError as error:
            raise _cannot_write(path, error) from None
        with handle:
            yield handle
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle_fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise _cannot_write(path.parent, error) from None
    try:
        os.chmod(temporary, target.stat().st_mode & 0o7777 if target.exists() else _file_mode())
        with os.fdopen(
            handle_fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})
        ) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path | IO, text: str) -> None:
    """Write `text` (UTF-8, `\\n` line ends) to `path` under the output rule."""
    with atomic_write(path) as stream:
        stream.write(text)


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write every `(path, text)` under the output rule, in order; returns the paths."""
    for path, text in files.items():
        atomic_write_text(path, text)
    return list(files)


def check_output_file(path: str | Path | IO) -> None:
    """Check, creating nothing, that a file could be written at `path` (a stream always can):
    not a folder, and its nearest existing folder takes a new file."""
    if is_stream(path):
        return
    path = Path(path)
    if _is_special(path):
        return
    check_writable(_file_target(path).parent)


# --- folders ----------------------------------------------------------------------------------


def _manifest(folder: Path) -> set[str]:
    """The names nerqa wrote in `folder`, from its manifest (empty when it has none)."""
    try:
        names = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {str(n) for n in names} if isinstance(names, list) else set()


def _owned(name: str, own: Iterable[str]) -> bool:
    """Whether `name` is one of `own`, or a companion of one (`decisions.sqlite-wal`)."""
    return any(name == o or name.startswith(o + "-") for o in own)


def foreign_files(folder: str | Path, own: Iterable[str] = ()) -> list[str]:
    """The entries of an existing `folder` that nerqa did not write: not in its manifest, not
    the manifest itself, not one of `own` (the names this kind of folder holds). Sorted."""
    folder = Path(folder)
    written = _manifest(folder) | {MANIFEST}
    own = tuple(own)
    return sorted(p.name for p in folder.iterdir() if p.name not in written and not _owned(p.name, own))


def _folder_target(folder: str | Path | IO) -> Path:
    """The folder a write to `folder` fills: itself, or the folder a symbolic link names.
    Refuses standard output, a file and a dangling link in one line."""
    if is_stdout(folder):
        raise NerqaError("-: this output is a folder, not one stream; name a folder")
    folder = Path(folder)
    if folder.is_symlink():
        if not folder.exists():
            raise NerqaError(f"{folder}: a symbolic link to nothing ({os.readlink(folder)}); name a folder")
        folder = Path(os.path.realpath(folder))
    if folder.exists() and not folder.is_dir():
        raise NerqaError(f"{folder}: is a file, expected a folder (nerqa writes a folder here)")
    return folder


def check_output_folder(folder: str | Path, *, own: Iterable[str] = (), force: bool = False) -> Path:
    """Check, creating nothing, that `folder` may be written: new, empty, or holding only what
    nerqa wrote (or `force`), and writable. Returns the folder to fill (a link followed)."""
    target = _folder_target(folder)
    if target.is_dir() and not force:
        foreign = foreign_files(target, own)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise NerqaError(
                f"{folder}: the folder holds files nerqa did not write ({shown}); name a new or empty folder, "
                "or pass --force to write beside them"
            )
    check_writable(target)
    return target


def _write_manifest(folder: Path, names: Iterable[str]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps({"writer": "nerqa", "files": sorted(set(names))}) + "\n")


def _usual_modes(root: Path) -> None:
    """Give `root` and everything in it the modes new files and folders get under the umask
    (mkdtemp and some writers make 0700 folders and 0600 files)."""
    os.chmod(root, _dir_mode())
    for base, folders, files in os.walk(root):
        for name in folders:
            os.chmod(os.path.join(base, name), _dir_mode())
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                os.chmod(path, _file_mode())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(folder: str | Path, *, own: Iterable[str] = (), force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder` to fill; on a clean exit its content
    becomes `folder`'s, on any failure it is removed (a failed write leaves nothing).

    A new `folder` is the temporary one renamed into place. An existing one (empty, nerqa's, or
    with `force`) keeps its mode and whatever else it holds: each written entry replaces the
    entry of that name, and entries nerqa wrote there before and did not write now are removed.
    `own` names entries the caller put in `folder` itself (a log written while it worked).

    Raises `NerqaError` (one line) when the folder may not be written (`check_output_folder`).
    """
    own = tuple(own)
    target = check_output_folder(folder, own=own, force=force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as error:
        raise _cannot_write(target.parent, error) from None
    try:
        yield staging
        names = [p.name for p in staging.iterdir()]
        _write_manifest(staging, names)
        _usual_modes(staging)
        if not target.exists():
            os.replace(staging, target)
            return
        check_output_folder(folder, own=own, force=force)  # nothing foreign arrived meanwhile
        earlier = _manifest(target)
        for name in names:
            # A folder replaces an entry of its name, and anything replaces a folder: rename(2)
            # does neither over the other kind.
            entry = target / name
            if (entry.is_dir() and not entry.is_symlink()) or ((staging / name).is_dir() and os.path.lexists(entry)):
                _remove(entry)
            os.replace(staging / name, entry)
        for name in earlier - set(names) - {MANIFEST}:
            if not _owned(name, own):
                _remove(target / name)
        os.replace(staging / MANIFEST, target / MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def claim_folder(folder: str | Path, *, own: Iterable[str], force: bool = False) -> Path:
    """Make `folder` (new, empty, or nerqa's; with `force` any) the home of files written into
    it over time (an audit folder), and mark it as nerqa's. Returns the folder (a link followed)."""
    own = tuple(own)
    target = check_output_folder(folder, own=own, force=force)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cannot_write(target, error) from None
    if not (target / MANIFEST).exists():
        _write_manifest(target, [])
    return target


@contextlib.contextmanager
def removed_on_failure(folder: str | Path, *, keep: Callable[[Path], bool] = lambda folder: False) -> Iterator[None]:
    """Remove `folder` when the body fails, if it did not exist before the body ran and `keep`
    does not say its content is worth keeping (a fold cache a re-run resumes from): a failed
    command leaves no output behind, not even its log."""
    folder = Path(folder)
    new = not folder.exists() and not folder.is_symlink()
    try:
        yield
    except BaseException:
        if new and folder.is_dir() and not keep(folder):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def sweep_staging(folder: str | Path, prefix: str) -> list[Path]:
    """Remove the temporary folders and files (`.{prefix}*`) that an interrupted write left in
    `folder`; returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = [p for p in folder.iterdir() if p.name.startswith(f".{prefix}")]
    for path in removed:
        _remove(path)
    return removed


# --- writability ------------------------------------------------------------------------------


def writable_folder(folder: str | Path) -> Path:
    """Create `folder` if needed and check that files can be written in it.

    Called before long work, so that an unwritable output folder fails in the first second
    rather than after an hour of training.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cannot_write(folder, error) from None
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
        raise _cannot_write(folder, error) from None


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
