"""Hugging Face `datasets` corpora: `save_to_disk` folders.

Hugging Face `datasets` corpora: `save_to_disk` folders (a Dataset or a DatasetDict of
splits), parquet and arrow files, and `hf:NAME`: a dataset the user's local datasets cache holds
(offline: never a download); one row per sentence, a tokens column and a tags column.

Tag names come from the tags column's `ClassLabel` feature, from `ReadOptions.tag_names`
(`--tags`) when the column holds plain integers, or from the strings themselves. Every other
column, and the features of all, ride along with each sentence (`Sentence.source`), so that
writing the corpus back keeps them: the output loads with `datasets.load_from_disk` (or
`Dataset.from_parquet`) with the same features, the tags as a `ClassLabel` sequence.

`datasets` is imported on use only; it is an optional dependency (`pip install 'nerqa[hf]'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats.common import ReadOptions, normalise_tags
from nerqa.errors import CorpusFormatError, NerqaError
from nerqa.files import atomic_folder, atomic_write

TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("ner_tags", "tags", "labels", "ner")
SUFFIXES = (".parquet", ".arrow")
# A dataset holds sentences, one a row; these columns keep the documents they belong to: rows
# in a row with the same `document` number are one document, named by `document_id`. nerqa
# writes them for a corpus that did not come from a dataset, and reads them wherever they are.
DOC_COLUMN = "document"
DOC_ID_COLUMN = "document_id"
# `hf:NAME` reads a dataset from the local datasets cache, by name.
CACHE_PREFIX = "hf:"


@dataclass(frozen=True)
class Schema:
    """The columns of the dataset a corpus came from: which hold the tokens and the tags, the
    tag names in `ClassLabel` order (empty for string tags), and every column's feature
    (`datasets.Features.to_dict()`), shared by all the corpus's sentences."""

    tokens: str
    tags: str
    tag_names: tuple[str, ...]
    features: dict


@dataclass(frozen=True)
class Row:
    """A sentence's row in its dataset: the values of the columns other than tokens and tags."""

    values: dict
    schema: Schema


def _datasets():
    try:
        import datasets
    except ModuleNotFoundError:
        raise NerqaError("Hugging Face datasets need the datasets package: pip install 'nerqa[hf]'") from None
    datasets.disable_progress_bars()  # the library never prints
    return datasets


def is_dataset_path(path: Path) -> bool:
    """Whether `path` is a `save_to_disk` folder, a parquet or arrow file, or `hf:NAME`."""
    if str(path).startswith(CACHE_PREFIX):
        return True
    if path.is_dir():
        return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
    return path.suffix.lower() in SUFFIXES


def load_cached(spec: str):
    """The DatasetDict `spec` (`NAME`, `OWNER/NAME`, either with `:CONFIG`) names in the local
    datasets cache (`$HF_DATASETS_CACHE`, else `~/.cache/huggingface/datasets`), where
    `datasets.load_dataset` left it. Read by datasets' own cache builder, which never goes
    to the network, so nothing is ever downloaded."""
    datasets = _datasets()
    from datasets.packaged_modules.cache.cache import Cache

    name, _, config = spec.partition(":")
    cache_dir = datasets.config.HF_DATASETS_CACHE
    try:
        builder = Cache(
            cache_dir=str(cache_dir),
            dataset_name=name.split("/")[-1],
            repo_id=name,
            config_name=config or None,
            version="auto",
            hash="auto",
        )
        return builder.as_dataset()
    except (ValueError, FileNotFoundError) as error:
        raise NerqaError(
            f"{CACHE_PREFIX}{spec}: not in the local datasets cache ({cache_dir}): {str(error).splitlines()[0]}. "
            "nerqa never downloads; load it once with datasets.load_dataset where there is a network, or pass "
            "a save_to_disk folder or a parquet file"
        ) from None


def load(path: Path):
    """The Dataset or DatasetDict at `path` (`hf:NAME`: from the local datasets cache)."""
    if str(path).startswith(CACHE_PREFIX):
        return load_cached(str(path)[len(CACHE_PREFIX) :])
    datasets = _datasets()
    try:
        if path.is_dir():
            return datasets.load_from_disk(str(path))
        kind = "parquet" if path.suffix.lower() == ".parquet" else "arrow"
        return datasets.Dataset.from_parquet(str(path)) if kind == "parquet" else datasets.Dataset.from_file(str(path))
    except FileNotFoundError:
        raise NerqaError(f"{path}: no such file or folder") from None
    except Exception as error:  # datasets and pyarrow raise many kinds for a damaged file
        raise NerqaError(f"{path}: cannot read as a Hugging Face dataset: {error}") from None


def read_splits(path: Path, options: ReadOptions = ReadOptions()) -> dict[str, Corpus]:
    """Every split of a DatasetDict folder (a Dataset or a file: one split named after it),
    or only `options.split`."""
    datasets = _datasets()
    loaded = load(path)
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded)
        if options.split is not None:
            if options.split not in loaded:
                raise NerqaError(f"{path}: no split {options.split!r}; the splits are {', '.join(names)}")
            names = [options.split]
        return {name: to_corpus(loaded[name], f"{path}[{name}]", options, name=name) for name in names}
    name = path.stem if not path.is_dir() else path.name
    if options.split is not None and options.split != name:
        raise NerqaError(f"{path}: one dataset, not a DatasetDict of splits: --split does not apply")
    return {name: to_corpus(loaded, str(path), options, name=name)}


def read(path: Path, options: ReadOptions = ReadOptions()) -> Corpus:
    """One corpus: a Dataset, a file, or one split of a DatasetDict (`options.split`)."""
    splits = read_splits(path, options)
    if len(splits) != 1:
        raise NerqaError(f"{path}: a DatasetDict of {len(splits)} splits ({', '.join(splits)}); choose one: --split")
    return next(iter(splits.values()))


def _column(names: list[str], wanted: tuple[str, ...], what: str, where: str) -> str:
    for name in wanted:
        if name in names:
            return name
    raise NerqaError(f"{where}: no {what} column (looked for {', '.join(wanted)}; the columns are {', '.join(names)})")


def to_corpus(dataset, where: str, options: ReadOptions, *, name: str = "") -> Corpus:
    """A Dataset as a corpus: with `document` and `document_id` columns (what nerqa writes),
    consecutive rows of one `document` are one document; without them, one document per row
    (named by its `id` column when there is one), which the audit's folds split one by one."""
    columns = list(dataset.column_names)
    token_column = _column(columns, TOKEN_COLUMNS, "tokens", where)
    tag_column = _column(columns, TAG_COLUMNS, "tags", where)
    feature = dataset.features[tag_column]
    inner = getattr(feature, "feature", None)
    names = tuple(inner.names) if inner is not None and hasattr(inner, "names") else ()
    if not names and options.tag_names:
        names = tuple(options.tag_names)
    schema = Schema(token_column, tag_column, names, dataset.features.to_dict())
    structural = (DOC_COLUMN, DOC_ID_COLUMN) if DOC_COLUMN in columns else ()
    sequences, lines, rows = [], [], []
    for number, row in enumerate(dataset, start=1):
        tokens, tags = row[token_column], row[tag_column]
        if tokens is None or tags is None or len(tokens) != len(tags):
            raise CorpusFormatError(where, number, f"row {number}: {token_column} and {tag_column} differ in length")
        sequences.append(_tag_names(tags, names, tag_column, where, number))
        lines.append([number] * len(tags))
        rows.append(
            (tuple(str(t) for t in tokens), {k: v for k, v in row.items() if k not in (token_column, tag_column)})
        )
    tag_sequences = normalise_tags(sequences, lines, where, options)
    documents: list[Document] = []
    group: list[Sentence] = []
    for n, ((tokens, values), tags) in enumerate(zip(rows, tag_sequences)):
        sentence = Sentence(
            tokens, tuple(tags), source=Row({k: v for k, v in values.items() if k not in structural}, schema)
        )
        group.append(sentence)
        if structural and n + 1 < len(rows) and rows[n + 1][1][DOC_COLUMN] == values[DOC_COLUMN]:
            continue  # the next row is in the same document
        doc_id = values.get(DOC_ID_COLUMN) if structural else values.get("id")
        documents.append(Document(str(doc_id) if doc_id is not None else None, tuple(group)))
        group = []
    return Corpus(tuple(documents), name=name)


def _tag_names(tags: list, names: tuple[str, ...], column: str, where: str, number: int) -> list[str]:
    """A row's tags as names: strings as they are, integers through the `ClassLabel` names.
    An id outside them (datasets' -1 "no label", or a stale id) is refused, never wrapped."""
    if not tags or isinstance(tags[0], str):
        return [str(t) for t in tags]
    if not names:
        raise CorpusFormatError(
            where, number, f"{column} holds integers without names: pass --tags O,B-TYPE,I-TYPE,..."
        )
    for position, tag in enumerate(tags):
        if not isinstance(tag, int) or not 0 <= tag < len(names):
            what = ' (datasets\' "no label": nerqa needs a tag on every token)' if tag == -1 else ""
            raise CorpusFormatError(
                where,
                number,
                f"row {number}, token {position + 1}: tag id {tag!r} is not one of the {len(names)} tag names "
                f"(0-{len(names) - 1}){what}",
            )
    return [names[t] for t in tags]


def to_dataset(corpus: Corpus):
    """The corpus as a Dataset: the columns and features of the dataset it came from (rows that
    came from elsewhere get None in its other columns), tags as a `ClassLabel` sequence whose
    names keep the source's order, new tags after them."""
    datasets = _datasets()
    schema = next((s.source.schema for s in corpus.sentences if isinstance(s.source, Row)), None)
    known = list(schema.tag_names) if schema is not None else []
    seen = {t for s in corpus.sentences for t in s.tags}
    new = sorted(seen - set(known), key=lambda t: (t != "O", t.split("-", 1)[-1], t))
    names = known + new
    token_column = schema.tokens if schema is not None else "tokens"
    tag_column = schema.tags if schema is not None else "ner_tags"
    index = {t: i for i, t in enumerate(names)}
    features = datasets.Features.from_dict(schema.features) if schema is not None else datasets.Features()
    features[token_column] = datasets.Sequence(datasets.Value("string"))
    features[tag_column] = datasets.Sequence(datasets.ClassLabel(names=names))
    # Documents are kept where the corpus had them: always for a corpus from elsewhere.
    structural = schema is None or DOC_COLUMN in schema.features
    if structural:
        features[DOC_COLUMN] = datasets.Value("int64")
        features[DOC_ID_COLUMN] = datasets.Value("string")
    others = [c for c in features if c not in (token_column, tag_column, DOC_COLUMN, DOC_ID_COLUMN)]
    data: dict[str, list[Any]] = {c: [] for c in features}
    for number, document in enumerate(corpus.documents):
        for sentence in document.sentences:
            values = sentence.source.values if isinstance(sentence.source, Row) else {}
            data[token_column].append(list(sentence.tokens))
            data[tag_column].append([index[t] for t in sentence.tags])
            for column in others:
                data[column].append(values.get(column))
            if structural:
                data[DOC_COLUMN].append(number)
                data[DOC_ID_COLUMN].append(document.id)
    return datasets.Dataset.from_dict(data, features=features)


def write(splits: dict[str, Corpus], path: Path, *, single: bool, force: bool = False) -> list[Path]:
    """Write a Dataset (`single`) or a DatasetDict of `splits` with `save_to_disk` into folder
    `path`, or one corpus to a `.parquet` file, under the output rule (`nerqa.files`): built
    beside it and moved into place, so a failed write leaves nothing half-written; a folder
    holding files nerqa did not write is refused unless `force`. Returns the paths written."""
    datasets = _datasets()
    if path.suffix.lower() == ".parquet":
        if len(splits) != 1:
            raise NerqaError(f"{path}: a parquet file holds one split, not {len(splits)}; write to a folder")
        dataset = to_dataset(next(iter(splits.values())))
        with atomic_write(path, binary=True) as stream:
            dataset.to_parquet(stream)
        return [path]
    value = (
        to_dataset(next(iter(splits.values())))
        if single
        else datasets.DatasetDict({name: to_dataset(corpus) for name, corpus in splits.items()})
    )
    with atomic_folder(path, force=force) as staging:
        value.save_to_disk(str(staging))
    return [path]
