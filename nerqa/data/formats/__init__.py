"""Reading and writing corpora in every supported format, with format detection.

Formats: `conll` (CoNLL / IOB token-per-line), `ncbi` (NCBI inline-tag abstracts),
`pubtator`, `nemo` (text_*.txt / labels_*.txt pairs), `jsonl` (character-span records; reads
token records too), `jsonl-tokens` (token records), `hf` (Hugging Face datasets:
`save_to_disk` folders, parquet and arrow files; `nerqa.data.formats.hf`) and `spacy` (DocBin
`.spacy` files; `nerqa.data.formats.docbin`).

A path is a file or a folder of splits (`train.tsv`, `dev.tsv`, ... or NeMo's
`text_train.txt` + `labels_train.txt`, ...). Writes go to a temporary file that is renamed
into place, so a failed write never leaves a half-written corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from nerqa.data.corpus import Corpus
from nerqa.data.formats import conll, docbin, hf, jsonl, ncbi, nemo, pubtator
from nerqa.data.formats.common import ReadOptions
from nerqa.data.formats.rawtext import (
    STDIN_NAME,
    corpus_from_raw_text,
    count_text_documents,
    decode_text,
    read_text,
    read_text_documents,
    text_files,
)
from nerqa.errors import FormatDetectionError, NerqaError
from nerqa.files import (
    STDOUT,
    atomic_folder,
    check_output_file,
    check_output_folder,
    check_writable,
    is_stdout,
    is_stream,
    write_files,
)

__all__ = [
    "FORMATS",
    "STDIN_NAME",
    "ReadOptions",
    "detect_format",
    "read_corpus",
    "read_splits",
    "write_corpus",
    "write_splits",
    "check_output",
    "parse_text",
    "dump_text",
    "format_for_output",
    "corpus_from_raw_text",
    "read_text",
    "decode_text",
    "read_text_documents",
    "count_text_documents",
    "text_files",
    "lost_columns",
]

FORMATS = ("conll", "ncbi", "pubtator", "nemo", "jsonl", "jsonl-tokens", "hf", "spacy")

# Text parsers of the one-file formats: (text, path, options) -> Corpus.
READERS: dict[str, Callable[..., Corpus]] = {
    "conll": conll.parse,
    "ncbi": ncbi.parse,
    "pubtator": pubtator.parse,
    "jsonl": jsonl.parse,
    "jsonl-tokens": jsonl.parse,
}
# Text writers of the one-file formats: Corpus -> text.
WRITERS: dict[str, Callable[[Corpus], str]] = {
    "conll": conll.dump,
    "ncbi": ncbi.dump,
    "pubtator": pubtator.dump,
    "jsonl": jsonl.dump,
    "jsonl-tokens": jsonl.dump_tokens,
}
EXTENSIONS = {"conll": ".tsv", "ncbi": ".txt", "pubtator": ".pubtator", "jsonl": ".jsonl", "jsonl-tokens": ".jsonl"}
_OUTPUT_SUFFIXES = {
    ".conll": "conll",
    ".tsv": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".conllu": "conll",
    ".pubtator": "pubtator",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "hf",
    ".spacy": "spacy",
}
# A NeMo file's name: its kind (text or labels) and its split.
NEMO_FILE = re.compile(r"^(text|labels)_(.+)\.txt$")
_PUBTATOR_RE = re.compile(r"^[^|\t]+\|[ta]\|")
_TAG_RE = re.compile(r"^(O|[BIESLU](-\S.*)?)$")


def check_format_name(name: str) -> str:
    """`name` when it is a format nerqa reads and writes; else one line saying which are."""
    if name not in FORMATS:
        raise NerqaError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    return name


def _merge_types(corpus: Corpus, options: ReadOptions) -> Corpus:
    """Apply `options.merge_type` (every entity type renamed to one), if set."""
    return corpus.map_types({t: options.merge_type for t in corpus.entity_types}) if options.merge_type else corpus


def parse_text(text: str, format: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse the content of a one-file format; `merge_type` is applied here."""
    if format == "nemo":
        raise NerqaError("NeMo corpora are pairs of files: use read_corpus on text_*.txt or its folder")
    if format in ("hf", "spacy"):
        raise NerqaError(f"{format} corpora are folders or binary files: use read_corpus")
    corpus = READERS[check_format_name(format)](text, path=path, options=options)
    return _merge_types(corpus, options)


def dump_text(corpus: Corpus, format: str) -> str:
    """The content of a one-file format for `corpus`."""
    if format == "nemo":
        raise NerqaError("NeMo corpora are pairs of files: use write_corpus")
    if format in ("hf", "spacy"):
        raise NerqaError(f"{format} corpora are folders or binary files: use write_corpus")
    return WRITERS[check_format_name(format)](corpus)


def sniff_format(text: str) -> str | None:
    """Guess a one-file format from content; `None` when nothing fits."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return None
    first = lines[0].lstrip()
    if first.startswith(("{", "[")):
        return "jsonl"
    if _PUBTATOR_RE.match(first):
        return "pubtator"
    if '<category="' in text[:100_000] or all(
        len(line.split("\t")) >= 3 and line.split("\t")[0].strip().isdigit() for line in lines[:5]
    ):
        return "ncbi"
    token_lines = [line for line in lines if not line.startswith("-DOCSTART-")]
    columns = [(line.split("\t") if "\t" in line else line.split()) for line in token_lines]
    if columns and sum(len(c) >= 2 and bool(_TAG_RE.match(c[-1])) for c in columns) >= 0.9 * len(columns):
        return "conll"
    return None


def detect_format(path: str | Path) -> str:
    """The format of a corpus file or folder, from its name and then its content."""
    path = Path(path)
    if hf.is_dataset_path(path):
        return "hf"
    if path.suffix.lower() == docbin.SUFFIX:
        return "spacy"
    if path.is_dir():
        if any(NEMO_FILE.match(p.name) for p in path.iterdir()):
            return "nemo"
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        kinds = {detect_format(p) for p in files if p.name != "label_ids.csv"}
        if len(kinds) == 1:
            return kinds.pop()
        raise FormatDetectionError(
            f"{path}: cannot tell the format of the folder (found {sorted(kinds) or 'no corpus files'}); pass --format"
        )
    if NEMO_FILE.match(path.name):
        return "nemo"
    if path.suffix.lower() in (".jsonl", ".json"):
        return "jsonl"
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    detected = sniff_format(read_text(path))
    if detected is None:
        raise FormatDetectionError(
            f"{path}: cannot tell the corpus format from its name or content; pass --format ({', '.join(FORMATS)})"
        )
    return detected


def format_for_output(path: str | Path) -> str | None:
    """The format an output path's name implies (`None` when it implies none)."""
    path = Path(path)
    if NEMO_FILE.match(path.name):
        return "nemo"
    return _OUTPUT_SUFFIXES.get(path.suffix.lower())


def _nemo_pair(path: Path) -> tuple[Path, Path]:
    match = NEMO_FILE.match(path.name)
    if match is None:
        raise NerqaError(f"{path}: a NeMo corpus is named text_SPLIT.txt or labels_SPLIT.txt")
    return path.with_name(f"text_{match.group(2)}.txt"), path.with_name(f"labels_{match.group(2)}.txt")


def _read_nemo(path: Path, options: ReadOptions) -> Corpus:
    text_path, labels_path = _nemo_pair(path)
    ids_path = path.with_name("label_ids.csv")
    label_ids = nemo.parse_label_ids(read_text(ids_path), path=str(ids_path)) if ids_path.exists() else None
    corpus = nemo.parse(
        read_text(text_path),
        read_text(labels_path),
        text_path=str(text_path),
        labels_path=str(labels_path),
        label_ids=label_ids,
        options=options,
    )
    return _merge_types(corpus, options)


def read_corpus(path: str | Path, format: str | None = None, *, options: ReadOptions = ReadOptions()) -> Corpus:
    """Read one corpus file (for NeMo: either file of a pair). `format=None` detects it.

    Args:
        path: the file (for NeMo: either file of a pair).
        format: one of `FORMATS`; None detects it from the name and content.
        options: how to read it (`ReadOptions`: tag scheme, columns, type merging).

    Returns:
        The corpus.

    Raises:
        NerqaError: the file is missing or a line does not parse (naming the file and line).
    """
    path = Path(path)
    if format == "hf" or (format is None and hf.is_dataset_path(path)):
        return _merge_types(hf.read(path, options), options)
    if format == "spacy" or (format is None and path.suffix.lower() == docbin.SUFFIX):
        return _merge_types(docbin.read(path), options)
    if path.is_dir():
        splits = read_splits(path, format, options=options)
        if len(splits) != 1:
            raise NerqaError(f"{path}: a folder of {len(splits)} splits ({', '.join(splits)}); name one file")
        return next(iter(splits.values()))
    format = check_format_name(format) if format else detect_format(path)
    if format == "nemo":
        corpus = _read_nemo(path, options)
    else:
        corpus = parse_text(read_text(path), format, path=str(path), options=options)
    return Corpus(corpus.documents, name=path.stem)


def read_splits(
    path: str | Path, format: str | None = None, *, options: ReadOptions = ReadOptions()
) -> dict[str, Corpus]:
    """Read a file (one split, named by its stem) or a folder of splits, in name order.

    Args:
        path: a corpus file or a folder of split files.
        format: one of `FORMATS`; None detects it.
        options: how to read each split (`ReadOptions`).

    Returns:
        Split name -> corpus, in name order.
    """
    path = Path(path)
    if format == "hf" or (format is None and hf.is_dataset_path(path)):
        return {name: _merge_types(c, options) for name, c in hf.read_splits(path, options).items()}
    if not path.is_dir():
        corpus = read_corpus(path, format, options=options)
        match = NEMO_FILE.match(path.name)
        return {match.group(2) if match else path.stem: corpus}
    format = check_format_name(format) if format else detect_format(path)
    splits: dict[str, Corpus] = {}
    for child in sorted(path.iterdir()):
        if not child.is_file() or child.name.startswith(".") or child.name == "label_ids.csv":
            continue
        if format == "nemo":
            match = NEMO_FILE.match(child.name)
            if match is None or match.group(1) != "text":
                continue
            splits[match.group(2)] = Corpus(_read_nemo(child, options).documents, name=match.group(2))
        else:
            splits[child.stem] = read_corpus(child, format, options=options)
    if not splits:
        raise NerqaError(f"{path}: the folder holds no corpus files")
    return splits


def nemo_files(corpus: Corpus, folder: Path, split: str, options: ReadOptions) -> dict[Path, str]:
    """NeMo's three files for one split (`text_SPLIT.txt`, `labels_SPLIT.txt`, `label_ids.csv`), built in memory."""
    text, labels, label_ids = nemo.dump(corpus, entity_type=options.entity_type)
    return {
        folder / f"text_{split}.txt": text,
        folder / f"labels_{split}.txt": labels,
        folder / "label_ids.csv": label_ids,
    }


def write_corpus(
    corpus: Corpus,
    path: str | Path | IO,
    format: str | None = None,
    *,
    options: ReadOptions = ReadOptions(),
    force: bool = False,
) -> list[Path]:
    """Write `corpus` to `path` in `format` (default: implied by the name), under the output rule
    (`nerqa.files`: a stream, standard output for `-`, is written into and needs `format`;
    `force` lets a folder output hold files nerqa did not write). Returns the files written
    (`-` for a stream).

    For NeMo, `path` is `text_SPLIT.txt` (or `labels_SPLIT.txt`), and the pair and
    `label_ids.csv` are written beside it; or a folder (an existing one, or a name without a
    suffix), which gets the pair for a split named after the corpus. Every file's content is built before any
    is written.

    Args:
        corpus: what to write.
        path: a file, a folder (NeMo), `-` or a stream.
        format: one of `FORMATS`; None: implied by the name.
        options: the options the corpus was read with (kept columns and scheme).
        force: let a folder output hold files nerqa did not write.

    Raises:
        NerqaError: the output cannot be written under the output rule.
    """
    format = check_output(path, format, force=force)
    if is_stream(path):
        if format == "spacy":
            docbin.write(corpus, path)  # type: ignore[arg-type]
        else:
            write_files({path: dump_text(corpus, format)})  # type: ignore[dict-item]
        return [Path(STDOUT)]
    path = Path(path)
    if format == "hf":
        return hf.write({corpus.name or "train": corpus}, path, single=True, force=force)
    if format == "spacy":
        return docbin.write(corpus, path)
    if format == "nemo":
        match = NEMO_FILE.match(path.name)
        if match is None and (path.is_dir() or not path.suffix):
            # A folder: the split is named after the corpus (its source file's stem).
            files = nemo_files(corpus, path, corpus.name or "train", options)
        else:
            files = nemo_files(corpus, path.parent, match.group(2) if match else path.stem, options)
    else:
        files = {path: dump_text(corpus, format)}
    return write_files(files)


def check_output(path: str | Path | IO, format: str | None = None, *, force: bool = False) -> str:
    """Check, writing nothing, that `write_corpus(corpus, path, format)` could write: the format
    is known (named, or implied by the name) and the target may be written under the output
    rule. Returns the format. For commands that must fail before long work, not after."""
    shown = STDOUT if is_stream(path) else str(path)
    format = check_format_name(format) if format else (None if is_stream(path) else format_for_output(path))
    if format is None:
        raise FormatDetectionError(
            f"{shown}: cannot tell the output format from the name; pass --to ({', '.join(FORMATS)})"
        )
    if is_stdout(path) and format in ("hf", "nemo"):
        raise NerqaError(f"{shown}: {format} output is a folder or a pair of files, not one stream; name a path")
    if is_stream(path):
        return format
    path = Path(path)
    if format == "hf" and path.suffix.lower() != ".parquet":
        check_output_folder(path, force=force)
    elif format == "nemo" and (path.is_dir() or not path.suffix) and not NEMO_FILE.match(path.name):
        check_writable(path)
    else:
        check_output_file(path)
    return format


def lost_columns(corpus: Corpus, format: str) -> str | None:
    """What writing `corpus` in `format` leaves behind, in words (None: nothing): the columns of
    CoNLL lines besides the token and the tag, or a dataset's columns besides tokens and tags,
    where `format` has no place for them."""
    widths = {s.source.width for s in corpus.sentences if isinstance(s.source, conll.Rows)}
    if format != "conll" and max(widths, default=2) > 2:
        extra = max(widths) - 2
        return f"{format} has no place for the CoNLL columns besides token and tag ({extra} per line, e.g. POS)"
    columns = sorted({k for s in corpus.sentences if isinstance(s.source, hf.Row) for k in s.source.values})
    if format != "hf" and columns:
        return f"{format} has no place for the dataset's other columns ({', '.join(columns)})"
    return None


def write_splits(
    splits: dict[str, Corpus],
    folder: str | Path,
    format: str,
    *,
    options: ReadOptions = ReadOptions(),
    force: bool = False,
) -> list[Path]:
    """Write each split into `folder` (`SPLIT.EXT`, or NeMo's `text_SPLIT.txt` pairs), under the
    output rule for folders (`nerqa.files.atomic_folder`; `force`: beside files nerqa did not
    write). Returns the files written.

    Args:
        splits: split name -> corpus.
        folder: the folder to write (made whole, or written into under the output rule).
        format: one of `FORMATS`.
        options: the options the splits were read with.
        force: write beside files nerqa did not write.
    """
    check_format_name(format)
    if format == "hf":
        return hf.write(splits, Path(folder), single=False, force=force)
    if format == "spacy":
        with atomic_folder(folder, force=force) as staging:
            for split, corpus in splits.items():
                docbin.write(corpus, staging / f"{split}{docbin.SUFFIX}")
        return [Path(folder) / f"{split}{docbin.SUFFIX}" for split in splits]
    files: dict[str, str] = {}
    for split, corpus in splits.items():
        if format == "nemo":
            files.update({p.name: text for p, text in nemo_files(corpus, Path(), split, options).items()})
        else:
            files[f"{split}{EXTENSIONS[format]}"] = dump_text(corpus, format)
    if format == "nemo":
        # One label_ids.csv serves every split: the union of their tags, O first.
        tags = ["O"] + sorted(
            {
                line
                for c in splits.values()
                for line in nemo.dump(c, entity_type=options.entity_type)[2].split()
                if line != "O"
            }
        )
        files["label_ids.csv"] = "\n".join(tags) + "\n"
    with atomic_folder(folder, force=force) as staging:
        write_files({staging / name: text for name, text in files.items()})
    return [Path(folder) / name for name in files]
