"""Errors a corpus repeats, seen by each mention's nearest neighbours.

Errors a corpus repeats, seen by nearest neighbours: a mention whose nearest mentions in
context (other sentences, any surface form) mostly carry another type is `wrong_tag` evidence,
with their type as the suggestion and the neighbours as the reason ("6 of 10 similar mentions
are ORG: Chelsea (s. 812), ..."); `find_repeated_errors` also asks for the guideline questions
(`nerqa.auditing.questions`).

Cross-validation sees an error only where the rest of the corpus labels the same thing
otherwise: a mistake the annotators repeat, or a guideline they followed throughout, is learnt
by every fold. Neighbours and questions do not ask a model trained on the labels: the vectors
are the frozen encoder's (`nerqa.auditing.mentions`; the audit's fast head reads the same).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.auditing.mentions import EXACT_LIMIT, Mention, mention_vectors, mentions_of, nearest, reduce
from nerqa.auditing.questions import EXAMPLES, Question, guideline_questions
from nerqa.auditing.scoring import neighbour_score
from nerqa.config import ScoringSettings
from nerqa.data.corpus import Corpus


@dataclass(frozen=True)
class Vote:
    """What a mention's neighbours say: `label`, the most common type among them other than
    the mention's own, held by `agree` of the `of` neighbours; `neighbours`: `(sentence index,
    text, type, similarity)` of the neighbours of that type, nearest first."""

    label: str
    agree: int
    of: int
    neighbours: tuple[tuple[int, str, str, float], ...]

    @property
    def share(self) -> float:
        return self.agree / self.of if self.of else 0.0


def votes(mentions: Sequence[Mention], index: np.ndarray, sims: np.ndarray) -> list[Vote | None]:
    """Per mention, its neighbours' vote for another type (`Vote`), or None when none of them
    carries another type."""
    out: list[Vote | None] = []
    for row, m in enumerate(mentions):
        found = [j for j in index[row] if j >= 0]
        others = Counter(mentions[j].label for j in found if mentions[j].label != m.label)
        if not others:
            out.append(None)
            continue
        label, agree = others.most_common(1)[0]
        near = tuple(
            (mentions[j].index, mentions[j].text, label, round(float(s), 4))
            for j, s in zip(index[row], sims[row])
            if j >= 0 and mentions[j].label == label
        )
        out.append(Vote(label, agree, len(found), near))
    return out


def describe_vote(vote: Vote, shown: int = 3) -> str:
    """`6 of 10 similar mentions are ORG: Chelsea (s. 812), Lazio (s. 1204), ...` (sentence
    indices as the audit numbers them, from 0)."""
    examples = ", ".join(f"{text} (s. {index})" for index, text, _, _ in vote.neighbours[:shown])
    more = ", ..." if len(vote.neighbours) > shown else ""
    return f"{vote.agree} of {vote.of} similar mentions are {vote.label}: {examples}{more}"


@dataclass
class RepeatedErrors:
    """What `find_repeated_errors` returns: the mentions, each one's neighbours' `votes`, and
    the guideline `questions`; `seconds` of the neighbour search and the clustering."""

    mentions: list[Mention]
    votes: list[Vote | None]
    questions: list[Question]
    seconds: float


def find_repeated_errors(
    corpus: Corpus,
    features: Sequence[np.ndarray],
    *,
    scoring: ScoringSettings | None = None,
    seed: int = 42,
) -> RepeatedErrors:
    """Neighbour votes and guideline questions for `corpus`, from its frozen-encoder word
    features `(n_words, n_features)` per sentence (`nerqa.models.frozen.frozen_pass`), with
    `scoring`'s neighbour count, context and question thresholds."""
    scoring = scoring or ScoringSettings()
    started = time.perf_counter()
    mentions = mentions_of(corpus)
    if len(mentions) < 2:
        return RepeatedErrors(mentions, [None] * len(mentions), [], 0.0)
    vectors = mention_vectors(features, mentions, context=scoring.neighbour_context)
    found, questions = repeated_errors(mentions, vectors, scoring=scoring, seed=seed)
    return RepeatedErrors(mentions, found, questions, time.perf_counter() - started)


def repeated_errors(
    mentions: Sequence[Mention], vectors: np.ndarray, *, scoring: ScoringSettings | None = None, seed: int = 42
) -> tuple[list[Vote | None], list[Question]]:
    """The votes and questions of `mentions` from their vectors `(n_mentions, d)` (unit length),
    `scoring.neighbour_count` neighbours each; above `EXACT_LIMIT` mentions the vectors are
    reduced first (`reduce`)."""
    scoring = scoring or ScoringSettings()
    if len(vectors) > EXACT_LIMIT:
        vectors = reduce(vectors, seed=seed)
    k = min(scoring.neighbour_count, len(mentions) - 1)
    index, sims = nearest(vectors, k, groups=np.array([m.index for m in mentions]))
    return votes(mentions, index, sims), guideline_questions(mentions, vectors, index, scoring=scoring, seed=seed)


def neighbour_issues(
    corpus: Corpus,
    mentions: Sequence[Mention],
    found: Sequence[Vote | None],
    *,
    scoring: ScoringSettings | None = None,
) -> list[Issue]:
    """A `wrong_tag` issue (evidence `neighbours`) for each mention whose neighbours' vote
    (`votes`) for another type holds at least `scoring.neighbour_min_share` of them; scored by
    `nerqa.auditing.scoring.neighbour_score`, the neighbours' type as the suggestion and the
    nearest of them in `similar`."""
    scoring = scoring or ScoringSettings()
    doc_ids = corpus.sentence_doc_ids
    out = []
    for m, vote in zip(mentions, found):
        if vote is None or vote.share < scoring.neighbour_min_share:
            continue
        out.append(
            Issue(
                id="",
                index=m.index,
                doc_id=doc_ids[m.index],
                start=m.start,
                end=m.end,
                type="wrong_tag",
                given=m.label,
                suggested=vote.label,
                score=neighbour_score(vote.share, scoring),
                text=m.text,
                reason=describe_vote(vote),
                evidence=("neighbours",),
                similar=vote.neighbours[:EXAMPLES],
            )
        )
    return out
