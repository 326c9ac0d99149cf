"""Sentence splitting and tokenisation of raw biomedical text, as a spaCy pipeline.

The tokenizer separates every punctuation mark and hyphen (`"beta-catenin"` ->
`beta - catenin`), as the official NCBI disease IOB release does. The sentence component
(`nerqa_sentencizer`) replaces spaCy's `sentencizer`, which splits at every full stop: it
keeps "( ref . 3 )", "Fig . 2", "E . coli" and "et al . and" in one sentence, and never
splits inside a protected span (an annotated entity).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy is imported on first use: it costs seconds at start-up
    from spacy.language import Language
    from spacy.tokens import Doc

TOKEN_RE = re.compile(r"[^\W_]+|\S")
SENTENCE_END = frozenset(".?!")
_OPEN_TO_CLOSE = {"(": ")", "[": "]", "{": "}"}
_OPENERS = frozenset("([{\"'")
# Tokens after which a full stop marks an abbreviation, not a sentence end.
ABBREVIATIONS = frozenset("fig figs ref refs no nos vs viz cf approx ca eq eqs dr mr mrs ms st vol pp sp spp".split())
PROTECTED_KEY = "nerqa_protected"
CharSpan = tuple[int, int]


def tokenize(text: str, *, boundaries: Sequence[int] = (), start: int = 0, end: int | None = None) -> list[CharSpan]:
    """Token character spans of `text[start:end]`, in absolute offsets.

    Each run of letters and digits is a token and every other non-space character (the
    underscore too) is a token of its own. A token is also cut at each offset in `boundaries` (entity edges that fall
    inside
    a word, such as "<category>cancer</category>s"), so entities always align with tokens.
    """
    end = len(text) if end is None else end
    cuts = sorted(b for b in set(boundaries) if start < b < end)
    spans: list[CharSpan] = []
    for match in TOKEN_RE.finditer(text, start, end):
        s, e = match.span()
        for cut in cuts:
            if s < cut < e:
                spans.append((s, cut))
                s = cut
        spans.append((s, e))
    return spans


class BioTokenizer:
    """A spaCy tokenizer (text -> Doc) with nerqa's tokenisation rules."""

    def __init__(self, vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        spans = tokenize(text)
        return _doc_from_spans(self.vocab, text, spans)


def _doc_from_spans(vocab, text: str, spans: Sequence[CharSpan]) -> Doc:
    from spacy.tokens import Doc

    words = [text[s:e] for s, e in spans]
    spaces = [spans[i][1] < (spans[i + 1][0] if i + 1 < len(spans) else len(text)) for i in range(len(spans))]
    return Doc(vocab, words=words, spaces=spaces)


def _bracket_depth_mask(words: Sequence[str]) -> list[bool]:
    """`mask[i]` is True when token i lies inside a matched bracket pair.

    Unmatched brackets protect nothing: a stray "(" must not glue the rest of an abstract
    into one sentence.
    """
    inside = [False] * len(words)
    stack: list[tuple[str, int]] = []
    for i, word in enumerate(words):
        if word in _OPEN_TO_CLOSE:
            stack.append((_OPEN_TO_CLOSE[word], i))
        elif word in (")", "]", "}"):
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == word:
                    opened = stack[depth][1]
                    del stack[depth:]
                    for j in range(opened + 1, i):
                        inside[j] = True
                    break
    return inside


def sentence_starts(
    words: Sequence[str], spaces: Sequence[bool], protected: Sequence[tuple[int, int]] = ()
) -> list[bool]:
    """`starts[i]` is True when token i begins a sentence.

    `protected` holds token spans `(start, end)` that must not be split.
    """
    n = len(words)
    starts = [False] * n
    if n == 0:
        return starts
    starts[0] = True
    inside = _bracket_depth_mask(words)
    glued = [False] * n  # glued[i]: tokens i and i+1 belong to one protected span
    for s, e in protected:
        for i in range(max(s, 0), min(e, n) - 1):
            glued[i] = True
    for i in range(n - 1):
        word, following = words[i], words[i + 1]
        if word not in SENTENCE_END or not spaces[i] or inside[i] or glued[i]:
            continue
        if not _can_start_sentence(following):
            continue
        if i > 0 and words[i - 1].lower() in ABBREVIATIONS:
            continue
        starts[i + 1] = True
    return starts


def _can_start_sentence(word: str) -> bool:
    """Whether `word` may open a sentence after a full stop.

    Lower-case words do not ("e . g .", "et al . and", "E . coli"), except gene and molecule
    names that are lower-case only in their first letters ("mRNA", "mtDNA"); nor does
    punctuation other than an opening bracket or quote.
    """
    first = word[0]
    if first in _OPENERS:
        return True
    if not first.isalnum():
        return False
    return not first.islower() or any(c.isupper() for c in word[1:])


def nerqa_sentencizer(doc: Doc) -> Doc:
    """Set `is_sent_start` on every token; spans in `doc.spans["nerqa_protected"]` are never split."""
    import numpy as np
    from spacy.attrs import SENT_START

    protected = [(span.start, span.end) for span in doc.spans.get(PROTECTED_KEY, [])]
    starts = sentence_starts([t.text for t in doc], [bool(t.whitespace_) for t in doc], protected)
    # One array write: setting `token.is_sent_start` token by token costs a pass over the
    # whole document each time (spaCy checks the doc's annotation), quadratic in its length.
    # spaCy reads attribute arrays as uint64; -1 ("not a start") wraps, as spaCy's own does.
    values = np.array([1 if start else -1 for start in starts], dtype=np.int64).astype(np.uint64).reshape(-1, 1)
    doc.from_array([SENT_START], values)
    return doc


@lru_cache(maxsize=1)
def biomedical_nlp() -> Language:
    """A blank English spaCy pipeline with nerqa's tokenizer and sentence component."""
    import spacy
    from spacy.language import Language

    if not Language.has_factory("nerqa_sentencizer"):
        Language.component("nerqa_sentencizer", func=nerqa_sentencizer)
    nlp = spacy.blank("en")
    nlp.tokenizer = BioTokenizer(nlp.vocab)
    nlp.add_pipe("nerqa_sentencizer")
    return nlp


def segment(
    text: str, *, sections: Sequence[CharSpan] | None = None, protected: Sequence[CharSpan] = ()
) -> list[list[CharSpan]]:
    """Split raw `text` into sentences of tokens.

    Args:
        text: the raw text of one document.
        sections: character spans of passages (title, abstract) that sentences never cross;
            default: the whole text.
        protected: character spans (entities) whose edges become token boundaries and whose
            inside is never a sentence boundary.

    Returns:
        One list per sentence of `(start, end)` character spans of its tokens (absolute
        offsets into `text`, end exclusive).
    """
    nlp = biomedical_nlp()
    edges = [b for span in protected for b in span]
    sentences: list[list[CharSpan]] = []
    # Every Doc adds its words to the shared vocabulary, which would grow with everything
    # ever read (a 50,000-sentence pool: hundreds of MB). Only plain offsets leave this zone,
    # so spaCy may drop the words again (memory zones: spaCy 3.8; older ones keep them).
    zone = nlp.memory_zone() if hasattr(nlp, "memory_zone") else contextlib.nullcontext()
    with zone:
        _split_sections(nlp, text, sections, protected, edges, sentences)
    return sentences


def _split_sections(
    nlp: Language,
    text: str,
    sections: Sequence[CharSpan] | None,
    protected: Sequence[CharSpan],
    edges: list[int],
    sentences: list[list[CharSpan]],
) -> None:
    for sec_start, sec_end in sections if sections is not None else [(0, len(text))]:
        spans = tokenize(text, boundaries=edges, start=sec_start, end=sec_end)
        if not spans:
            continue
        doc = _doc_from_spans(nlp.vocab, text, spans)
        token_at_start = {s: i for i, (s, _) in enumerate(spans)}
        token_at_end = {e: i for i, (_, e) in enumerate(spans)}
        group = []
        for p_start, p_end in protected:
            if p_start in token_at_start and p_end in token_at_end:
                group.append(doc[token_at_start[p_start] : token_at_end[p_end] + 1])
        doc.spans[PROTECTED_KEY] = group
        doc = nlp(doc)
        for sent in doc.sents:
            sentences.append(list(spans[sent.start : sent.end]))
