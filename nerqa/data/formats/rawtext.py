"""Raw text: files decoded as UTF-8, and untagged documents streamed from a file or a folder.

What `nerqa select` and `nerqa predict` read when the input has no tags; split into sentences and
tokens by `nerqa.data.segment`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nerqa.data.corpus import Corpus, Document
from nerqa.errors import CorpusFormatError, NerqaError

# How standard input is named in messages.
STDIN_NAME = "<stdin>"


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`; undecodable bytes and empty files raise `CorpusFormatError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NerqaError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NerqaError(f"{path}: is a folder, expected a file") from None
    except OSError as error:
        raise NerqaError(f"{path}: cannot read: {error.strerror}") from None
    return decode_text(data, path)


def decode_text(data: bytes, where: str | Path) -> str:
    """`data` as UTF-8 text (a BOM dropped); undecodable bytes and blank content raise
    `CorpusFormatError` at `where` (a path, or `<stdin>`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CorpusFormatError(
            where, line, f"not valid UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}"
        ) from None
    if not text.strip(" \t\r\n"):  # a file of one no-break or ideographic space holds a token
        raise CorpusFormatError(where, None, "the file is empty" if where != STDIN_NAME else "standard input is empty")
    return text


def corpus_from_raw_text(text: str, *, doc_id: str | None = None) -> Corpus:
    """An untagged corpus from raw text, split into sentences and tokens by `nerqa.data.segment`."""
    from nerqa.data.formats.common import document_from_text

    return Corpus((document_from_text(doc_id, text, [(0, len(text))], [], path=None, line=None),))


def text_files(path: str | Path) -> list[Path]:
    """The raw-text files of a pool: the file itself, or a folder's visible `.txt` files in name order."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".txt"
    )
    if not files:
        raise NerqaError(f"{path}: the folder holds no .txt files")
    return files


def count_text_documents(path: str | Path) -> int:
    """How many documents `read_text_documents` will yield (non-blank lines of a file; files
    of a folder), counted without decoding, for progress."""
    path = Path(path)
    if path.is_dir():
        return len(text_files(path))
    try:
        with path.open("rb") as stream:
            return sum(1 for line in stream if line.strip())
    except OSError as error:
        raise NerqaError(f"{path}: cannot read: {error.strerror}") from None


def read_text_documents(path: str | Path) -> Iterator[Document]:
    """Stream raw text as untagged documents, split into sentences and tokens by `nerqa.data.segment`.

    A file holds one document a line (id `NAME:LINE`; blank lines are skipped) and is read a
    line at a time, so a large pool never sits in memory whole; a folder holds one document
    per `.txt` file (id: the file's stem). Undecodable bytes raise `CorpusFormatError` at
    their line.
    """
    from nerqa.data.formats.common import document_from_text

    path = Path(path)
    if path.is_dir():
        for file in text_files(path):
            text = read_text(file)
            yield document_from_text(file.stem, text, [(0, len(text))], [], path=str(file), line=None)
        return
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise NerqaError(f"{path}: no such file") from None
    except OSError as error:
        raise NerqaError(f"{path}: cannot read: {error.strerror}") from None
    with stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError as error:
                raise CorpusFormatError(
                    path, number, f"not valid UTF-8: byte 0x{raw[error.start]:02x} at column {error.start + 1}"
                ) from None
            if line:
                yield document_from_text(
                    f"{path.name}:{number}", line, [(0, len(line))], [], path=str(path), line=number
                )
