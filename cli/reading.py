"""How commands read corpora: the reader options as one `CorpusReader`.

How commands read corpora: the reader options every reading command takes (`--format`,
`--scheme`, ...), gathered into one `CorpusReader` argument by `with_reader`, and the output
format and `--force` options of the commands that write one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from nerqa.config import check_choice
from nerqa.data.corpus import Corpus
from nerqa.data.formats import FORMATS, ReadOptions, lost_columns, read_corpus, read_splits
from nerqa.data.parts import Part, join
from nerqa.errors import NerqaError
from nerqa_cli.console import err_console, existing_path
from nerqa_cli.groups import option_group

Scheme = Literal["auto", "iob1", "iob2", "bioes"]
FormatName = Literal["conll", "ncbi", "pubtator", "nemo", "jsonl", "jsonl-tokens", "hf", "spacy"]


def check_format(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


OutputFormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--to",
        "-t",
        metavar="FORMAT",
        help=f"Output format ({', '.join(FORMATS)}); implied by --out's name if omitted.",
        callback=check_format,
    ),
]


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Write into an output folder that holds files nerqa did not write (they are kept; files of the "
        "names nerqa writes are replaced).",
    ),
]
# --force where the output is a corpus file, which is a folder only in some formats.
CorpusForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="When the output is a folder (a folder of splits, or the hf and nemo formats): write into it although "
        "it holds files nerqa did not write (they are kept). A file output is replaced either way.",
    ),
]


def note_lost_columns(corpus: Corpus, format: Optional[str]) -> None:
    """Say in one line what writing `corpus` as `format` leaves out (nothing when it keeps it all)."""
    lost = lost_columns(corpus, format) if format else None
    if lost:
        err_console.print(f"[yellow]Note:[/] {lost}; they are not written.", highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class CorpusReader:
    """How a command reads corpora: the `--format` (None: detected) and the reader options."""

    format: Optional[str]
    options: ReadOptions

    def read(self, path: Path) -> Corpus:
        """The corpus at `path`; `-` reads standard input (`read_stdin`)."""
        if str(path) == STDIN:
            return read_stdin(self.format, self.options)
        return read_corpus(existing_path(path), self.format, options=self.options)

    def read_parts(self, paths: Sequence[Path]) -> tuple[Corpus, tuple[Part, ...]]:
        """The corpus of one or several files, joined in the order given (`nerqa.data.parts`),
        and its parts: one per file (named by the file's name), or one per split of a
        DatasetDict named alone without --split. One plain file gives one part."""
        if len(paths) == 1:
            path = paths[0]
            if str(path) != STDIN and self.options.split is None and _is_dataset(path, self.format):
                splits = self.read_splits(path)
                if len(splits) > 1:
                    return join(splits, name=path.name)
            corpus = self.read(path)
            return corpus, (Part(corpus.name if str(path) == STDIN else path.name, len(corpus.documents), len(corpus)),)
        if any(str(p) == STDIN for p in paths):
            raise NerqaError(f"{STDIN}: standard input can be the only corpus of a command, not one of several")
        seen: dict[str, Path] = {}
        for path in paths:
            if path.name in seen:
                raise NerqaError(
                    f"{path}: {seen[path.name]} has the same name; the files of one audit need names of their own "
                    "(apply writes each back under its name)"
                )
            seen[path.name] = path
        corpora = {path.name: self.read(path) for path in paths}
        return join(corpora, name="+".join(c.name for c in corpora.values()))

    def read_splits(self, path: Path) -> dict[str, Corpus]:
        """The splits of a folder, or one file as one split; `-`: standard input, one split."""
        if str(path) == STDIN:
            return {"stdin": read_stdin(self.format, self.options)}
        return read_splits(existing_path(path), self.format, options=self.options)

    def with_overrides(self, *, format: Optional[str] = None, merge_type: Optional[str] = None) -> CorpusReader:
        """A copy with a format or type merge taken from elsewhere (a config file), when given."""
        options = (
            self.options if merge_type is None else ReadOptions(**{**self.options.__dict__, "merge_type": merge_type})
        )
        return CorpusReader(format or self.format, options)


# A corpus argument of `-` is standard input.
STDIN = "-"


def _is_dataset(path: Path, format: Optional[str]) -> bool:
    """Whether `path` names a Hugging Face dataset (which may hold several splits)."""
    from nerqa.data.formats import hf

    return format == "hf" or (format is None and hf.is_dataset_path(path))


def shown(paths: Sequence[Path]) -> str:
    """Corpus arguments as a command line names them again (for the next step to run)."""
    return " ".join(str(p) for p in paths)


def read_stdin(format: Optional[str], options: ReadOptions) -> Corpus:
    """The corpus piped to standard input, in `format` or the one its content shows: one of the
    one-file text formats (NeMo pairs, datasets and DocBin files need a path)."""
    import sys

    from nerqa.data.formats import STDIN_NAME, decode_text, parse_text, sniff_format
    from nerqa.errors import FormatDetectionError, NerqaError

    if format in ("nemo", "hf", "spacy"):
        raise NerqaError(f"{STDIN}: a {format} corpus cannot come from standard input; name its file or folder")
    text = decode_text(sys.stdin.buffer.read(), STDIN_NAME)
    format = format or sniff_format(text)
    if format is None:
        raise FormatDetectionError(f"{STDIN_NAME}: cannot tell the corpus format from the content; pass --format")
    corpus = parse_text(text, format, path=STDIN_NAME, options=options)
    return Corpus(corpus.documents, name="stdin")


_READER_OPTIONS: list[tuple[str, object, object]] = [
    (
        "format",
        Annotated[
            Optional[str],
            typer.Option(
                "--format",
                "-f",
                metavar="FORMAT",
                help=f"Input format ({', '.join(FORMATS)}); detected from name and content if omitted.",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "scheme",
        Annotated[
            str,
            typer.Option(
                metavar="auto|iob1|iob2|bioes",
                help="Tag scheme of token formats (auto: detected).",
                rich_help_panel="Reading",
            ),
        ],
        "auto",
    ),
    (
        "repair",
        Annotated[
            bool,
            typer.Option(
                "--repair",
                help="Read an I- tag that starts a span as B- instead of failing.",
                rich_help_panel="Reading",
            ),
        ],
        False,
    ),
    (
        "merge_types",
        Annotated[
            Optional[str],
            typer.Option(
                "--merge-types",
                metavar="TYPE",
                help="Rename every entity type to TYPE (e.g. Disease: merge the four NCBI categories).",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "entity_type",
        Annotated[
            str,
            typer.Option(
                metavar="TYPE", help="Type given to bare B/I tags (NeMo labels files).", rich_help_panel="Reading"
            ),
        ],
        "ENT",
    ),
    (
        "split",
        Annotated[
            Optional[str],
            typer.Option(
                metavar="NAME",
                help="The split of a Hugging Face DatasetDict to read [default: every split].",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "tag_names",
        Annotated[
            Optional[str],
            typer.Option(
                "--tags",
                metavar="TAGS",
                help="Names of integer tags in a Hugging Face dataset without a ClassLabel (id i is the i-th).",
                rich_help_panel="Reading",
            ),
        ],
        None,
    ),
    (
        "token_column",
        Annotated[
            int,
            typer.Option(help="CoNLL token column (0-based; negative counts from the end).", rich_help_panel="Reading"),
        ],
        0,
    ),
    (
        "tag_column",
        Annotated[
            int,
            typer.Option(help="CoNLL tag column (0-based; negative counts from the end).", rich_help_panel="Reading"),
        ],
        -1,
    ),
]


def _reader(values: dict) -> CorpusReader:
    check_choice("--scheme", values["scheme"], Scheme)
    if values["format"] is not None:
        check_choice("--format", values["format"], FormatName)
    options = ReadOptions(
        scheme=values["scheme"],
        repair=values["repair"],
        token_column=values["token_column"],
        tag_column=values["tag_column"],
        entity_type=values["entity_type"],
        merge_type=values["merge_types"],
        split=values["split"],
        tag_names=tuple(t.strip() for t in values["tag_names"].split(",")) if values["tag_names"] else None,
    )
    return CorpusReader(values["format"], options)


# Gives a command the reader options (`--format`, `--scheme`, `--repair`, `--merge-types`,
# `--entity-type`, `--split`, `--tags`, `--token-column`, `--tag-column`) as one `reader: CorpusReader`.
with_reader = option_group("reader", _READER_OPTIONS, _reader)
