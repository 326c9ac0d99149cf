"""CoNLL / IOB: one token a line, columns split by tabs (or spaces), blank lines between
sentences, `-DOCSTART-` lines between documents.

The token and tag columns are chosen by `ReadOptions.token_column` / `tag_column` (default:
first and last), so CoNLL-2003's four columns and the NCBI `token<TAB>tag` files both read.
nerqa writes `-DOCSTART-<TAB>ID` so document ids survive a round trip; other tools skip the
line as usual.
"""

from __future__ import annotations

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats.common import ReadOptions, check_token, normalise_tags
from nerqa.errors import CorpusFormatError

DOCSTART = "-DOCSTART-"


def _columns(line: str) -> list[str]:
    # Only ASCII spaces separate columns in a file without TABs: a no-break space is text.
    return line.split("\t") if "\t" in line else [c for c in line.split(" ") if c]


def parse(text: str, *, path: str | None = None, options: ReadOptions = ReadOptions()) -> Corpus:
    """Parse CoNLL text into a corpus (see the module docstring for the layout)."""
    # Per document: (doc id or None, was opened by -DOCSTART-, sentences as (tokens, tags, lines)).
    documents: list[tuple[str | None, bool, list[tuple[list[str], list[str], list[int]]]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def close_sentence() -> None:
        if tokens:
            if not documents or not documents[-1][1]:
                documents.append((None, False, []))  # no DOCSTART: one document per sentence
            documents[-1][2].append((tokens.copy(), tags.copy(), lines.copy()))
            tokens.clear(), tags.clear(), lines.clear()

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
            extra = [c for c in columns[1:] if c not in ("-X-", "O", "")]
            documents.append((extra[-1] if extra else None, True, []))
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
    close_sentence()

    all_sentences = [s for _, _, sentences in documents for s in sentences]
    if not all_sentences:
        raise CorpusFormatError(path, None, "no sentences found")
    iob2 = iter(normalise_tags([s[1] for s in all_sentences], [s[2] for s in all_sentences], path, options))
    out = []
    for doc_id, _, sentences in documents:
        out.append(Document(doc_id, tuple(Sentence(tuple(toks), next(iob2)) for toks, _, _ in sentences)))
    return Corpus(tuple(out))


def dump(corpus: Corpus) -> str:
    """CoNLL text: `token<TAB>tag` lines; `-DOCSTART-` lines when the corpus has documents."""
    with_docs = any(doc.id is not None or len(doc.sentences) > 1 for doc in corpus.documents)
    out: list[str] = []
    for d, doc in enumerate(corpus.documents):
        if with_docs:
            out.append(f"{DOCSTART}\t{doc.id}" if doc.id is not None else DOCSTART)
            out.append("")
        for s, sentence in enumerate(doc.sentences):
            for token, tag in zip(sentence.tokens, sentence.tags):
                check_token(token, f"document {d + 1}, sentence {s + 1}", separators="\t")
                out.append(f"{token}\t{tag}")
            out.append("")
    return "\n".join(out) + ("\n" if out else "")
