"""CoNLL / IOB files: one token a line, columns split by tabs or spaces.

CoNLL / IOB: one token a line, columns split by tabs (or spaces), blank lines between
sentences, `-DOCSTART-` lines between documents.

The token and tag columns are chosen by `ReadOptions.token_column` / `tag_column` (default:
first and last), so CoNLL-2003's four columns and the NCBI `token<TAB>tag` files both read.
nerqa writes `-DOCSTART-<TAB>ID` so document ids survive a round trip; other tools skip the
line as usual.

Every column of a token line is kept (`Rows`, riding along as `Sentence.source`), so a corpus
read here and written back keeps its other columns (CoNLL-2003's POS and chunk tags), its
separator, its `-DOCSTART-` lines and its tag scheme: only the tags that changed differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats.common import ReadOptions, check_token, normalise_tags
from nerqa.data.tags import detect_scheme, from_iob2
from nerqa.errors import CorpusFormatError

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class Rows:
    """A CoNLL sentence's token lines as read: `columns[i]` every column of token i's line,
    split by `separator`; the token and tag sit at `token_column` and `tag_column`, and the tags
    were in `scheme`. `docstart`: the `-DOCSTART-` line that opened the sentence's document, when
    it is the document's first sentence."""

    columns: tuple[tuple[str, ...], ...]
    separator: str
    token_column: int
    tag_column: int
    scheme: str
    docstart: str | None = None

    @property
    def width(self) -> int:
        """The most columns of a line."""
        return max((len(c) for c in self.columns), default=0)


def _columns(line: str) -> list[str]:
    # Only ASCII spaces separate columns in a file without TABs: a no-break space is text.
    return line.split("\t") if "\t" in line else [c for c in line.split(" ") if c]


def _doc_id(docstart: list[str]) -> str | None:
    """The document id a `-DOCSTART-` line's columns name (nerqa writes `-DOCSTART-<TAB>ID`)."""
    extra = [c for c in docstart[1:] if c not in ("-X-", "O", "")]
    return extra[-1] if extra else None


def parse(text: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse CoNLL text into a corpus (see the module docstring for the layout)."""
    # Per document: (doc id or None, its DOCSTART line or None, sentences as (tokens, tags,
    # lines, columns, separator)).
    documents: list[tuple[str | None, str | None, list[tuple]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    rows: list[tuple[str, ...]] = []
    separators: list[str] = []

    def close_sentence() -> None:
        if tokens:
            if not documents or documents[-1][1] is None:
                documents.append((None, None, []))  # no DOCSTART: one document per sentence
            documents[-1][2].append((tokens.copy(), tags.copy(), lines.copy(), tuple(rows), separators[0]))
            tokens.clear(), tags.clear(), lines.clear(), rows.clear(), separators.clear()

    needed = (
        max(
            options.token_column if options.token_column >= 0 else -options.token_column - 1,
            options.tag_column if options.tag_column >= 0 else -options.tag_column - 1,
        )
        + 1
    )
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip(" \t"):
            close_sentence()
            continue
        columns = _columns(line)
        if columns[0] == DOCSTART:
            close_sentence()
            documents.append((_doc_id(columns), line, []))
            continue
        if len(columns) < max(needed, 2):
            raise CorpusFormatError(
                path, number, f"expected a token and a tag separated by a tab or spaces, got {line!r}"
            )
        try:
            token, tag = columns[options.token_column], columns[options.tag_column]
        except IndexError:
            raise CorpusFormatError(
                path,
                number,
                f"line has {len(columns)} columns; token column {options.token_column} or tag column "
                f"{options.tag_column} is missing",
            ) from None
        if not token:
            raise CorpusFormatError(path, number, "empty token")
        tokens.append(token)
        tags.append(tag.strip())
        lines.append(number)
        rows.append(tuple(columns))
        separators.append("\t" if "\t" in line else " ")
    close_sentence()

    all_sentences = [s for _, _, sentences in documents for s in sentences]
    if not all_sentences:
        raise CorpusFormatError(path, None, "no sentences found")
    scheme = detect_scheme(s[1] for s in all_sentences) if options.scheme == "auto" else options.scheme
    options = dataclasses.replace(options, scheme=scheme)
    iob2 = iter(normalise_tags([s[1] for s in all_sentences], [s[2] for s in all_sentences], path, options))
    out = []
    for doc_id, docstart, sentences in documents:
        kept = []
        for n, (toks, _, _, columns, separator) in enumerate(sentences):
            source = Rows(
                columns, separator, options.token_column, options.tag_column, scheme, docstart if n == 0 else None
            )
            kept.append(Sentence(tuple(toks), next(iob2), source=source))
        out.append(Document(doc_id, tuple(kept)))
    return Corpus(tuple(out))


def _lines(sentence: Sentence, where: str) -> list[str]:
    """A sentence's token lines: as read, with the token and the tag (in the scheme read) put
    back in their columns, when it came from CoNLL; else `token<TAB>tag`."""
    rows = sentence.source
    for token in sentence.tokens:
        check_token(token, where, separators="\t" if not isinstance(rows, Rows) else rows.separator)
    if not isinstance(rows, Rows) or len(rows.columns) != len(sentence):
        return [f"{token}\t{tag}" for token, tag in zip(sentence.tokens, sentence.tags)]
    out = []
    for columns, token, tag in zip(rows.columns, sentence.tokens, from_iob2(sentence.tags, rows.scheme)):
        line = list(columns)
        line[rows.token_column], line[rows.tag_column] = token, tag
        out.append(rows.separator.join(line))
    return out


def dump(corpus: Corpus) -> str:
    """CoNLL text: the lines a sentence was read from (`Rows`) with its tags now, else
    `token<TAB>tag` lines; `-DOCSTART-` lines when the corpus has documents (as read, where
    they were)."""
    with_docs = any(doc.id is not None or len(doc.sentences) > 1 for doc in corpus.documents)
    out: list[str] = []
    for d, doc in enumerate(corpus.documents):
        first = doc.sentences[0].source if doc.sentences else None
        # As read, where the document is as read: its -DOCSTART- line, or none.
        if isinstance(first, Rows) and doc.id == (_doc_id(_columns(first.docstart)) if first.docstart else None):
            out += [first.docstart, ""] if first.docstart is not None else []
        elif with_docs:
            out.append(f"{DOCSTART}\t{doc.id}" if doc.id is not None else DOCSTART)
            out.append("")
        for s, sentence in enumerate(doc.sentences):
            out += _lines(sentence, f"document {d + 1}, sentence {s + 1}")
            out.append("")
    return "\n".join(out) + ("\n" if out else "")
