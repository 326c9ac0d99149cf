"""NeMo token-classification files.

NeMo token classification: `text_SPLIT.txt` holds one sentence a line, tokens split by
spaces; `labels_SPLIT.txt` holds the matching tags, one per token; `label_ids.csv` lists the
tags, one a line, in id order.

NeMo files often hold bare tags (`B`, `I`, `O`): they are read as `B-<entity_type>` /
`I-<entity_type>` (`ReadOptions.entity_type`, default "ENT"). Typed tags read as they are.
The writer writes bare tags when the corpus has the one type `entity_type`, typed otherwise.
"""

from __future__ import annotations

from nerqa.data.corpus import Corpus, Document, Sentence, tag_set_for_types
from nerqa.data.formats.common import ReadOptions, check_token, normalise_tags
from nerqa.data.tags import OUTSIDE, split_tag
from nerqa.errors import CorpusFormatError


def _typed(tag: str, entity_type: str) -> str:
    return f"{tag}-{entity_type}" if tag in ("B", "I", "E", "S", "L", "U") else tag


def parse_label_ids(text: str, *, path: str | None = None) -> list[str]:
    """The tags listed in a `label_ids.csv` (one a line, optional `,id` column)."""
    labels = []
    for number, raw in enumerate(text.splitlines(), start=1):
        name = raw.split(",")[0].strip()
        if name:
            if name in labels:
                raise CorpusFormatError(path, number, f"label {name!r} is listed twice")
            labels.append(name)
    return labels


def parse(
    text: str,
    labels: str,
    *,
    text_path: str | None = None,
    labels_path: str | None = None,
    label_ids: list[str] | None = None,
    options: ReadOptions = ReadOptions(),
) -> Corpus:
    """Parse a NeMo text/labels pair into a corpus (one id-less document per sentence)."""
    text_lines = text.splitlines()
    label_lines = labels.splitlines()
    # Trailing blank lines are harmless; anything else must pair up line by line.
    # Only ASCII blanks make a blank line: a sentence of one ideographic space is a sentence.
    while text_lines and not text_lines[-1].strip(" \t"):
        text_lines.pop()
    while label_lines and not label_lines[-1].strip(" \t"):
        label_lines.pop()
    if len(text_lines) != len(label_lines):
        shorter = min(len(text_lines), len(label_lines)) + 1
        raise CorpusFormatError(
            labels_path, shorter, f"{len(label_lines)} label lines but {len(text_lines)} text lines in {text_path}"
        )
    sequences, tokens_per_line, lines = [], [], []
    for number, (text_line, label_line) in enumerate(zip(text_lines, label_lines), start=1):
        tokens, tags = [t for t in text_line.split(" ") if t], label_line.split()
        if not tokens:
            raise CorpusFormatError(text_path, number, "empty sentence")
        if len(tokens) != len(tags):
            raise CorpusFormatError(
                labels_path, number, f"{len(tags)} labels for {len(tokens)} tokens on line {number} of {text_path}"
            )
        if label_ids is not None:
            unknown = [t for t in tags if t not in label_ids]
            if unknown:
                raise CorpusFormatError(
                    labels_path, number, f"label {unknown[0]!r} is not in label_ids.csv ({', '.join(label_ids)})"
                )
        sequences.append([_typed(t, options.entity_type) for t in tags])
        tokens_per_line.append(tuple(tokens))
        lines.append([number] * len(tokens))
    if not sequences:
        raise CorpusFormatError(text_path, None, "no sentences found")
    iob2 = normalise_tags(sequences, lines, labels_path, options)
    return Corpus(tuple(Document(None, (Sentence(toks, tags),)) for toks, tags in zip(tokens_per_line, iob2)))


def dump(corpus: Corpus, *, entity_type: str = "ENT") -> tuple[str, str, str]:
    """The `(text, labels, label_ids)` file contents for `corpus`."""
    bare = corpus.entity_types == (entity_type,)
    text_lines, label_lines = [], []
    for index, sentence in enumerate(corpus.sentences, start=1):
        for token in sentence.tokens:
            check_token(token, f"sentence {index}", separators=" \t")
        text_lines.append(" ".join(sentence.tokens))
        tags = [split_tag(t)[0] if bare else t for t in sentence.tags]
        label_lines.append(" ".join(tags))
    label_ids = [OUTSIDE, "B", "I"] if bare else list(tag_set_for_types(corpus.entity_types))
    return "\n".join(text_lines) + "\n", "\n".join(label_lines) + "\n", "\n".join(label_ids) + "\n"
