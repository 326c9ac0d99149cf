"""How the evidence becomes scores (`nerqa.auditing.scoring`), with `ScoringSettings` the one place
its weights live: each field, changed through `AuditSettings.replace()`, moves what the audit
scores, and `summary.json` records the fields."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nerqa.auditing import AuditSettings, ScoringSettings, score
from nerqa.auditing.crossval import CrossValResult
from nerqa.data.corpus import Corpus, Sentence
from nerqa.errors import ConfigError

TAGS = ("O", "B-A", "I-A", "B-B", "I-B")
DIMS = 16
# Each sentence's plan: its entity's type, the topic of its context, and how many such sentences.
# The A mentions in topic 1 sit among B mentions (a guideline question); the B mentions in
# topic 0 sit among A mentions (a neighbours' vote); A has 58 entities and B 12 (B is rare).
PLAN = [("A", 0, 50), ("A", 1, 8), ("B", 1, 10), ("B", 0, 2), (None, 0, 10)]
A_FORMS = ["alpha", "beta", "gamma delta", "epsilon"]
B_FORMS = ["bravo", "charlie"]


def scenario(seed: int = 0) -> tuple[Corpus, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A corpus that exercises every kind of evidence, with its pred_probs, training dynamics
    `(3, n_words, n_tags)` and word features `(n_words, DIMS)` per sentence."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(2, DIMS))
    sentences, probs, dynamics, features = [], [], [], []
    for label, topic, count in PLAN:
        for n in range(count):
            words = [f"w{rng.integers(30)}" for _ in range(7)]
            tags = ["O"] * 7
            if label is not None:
                # Some A forms occur once (one-off forms), the rest repeat.
                form = (B_FORMS if label == "B" else A_FORMS)[n % 2 if label == "B" else n % 4].split()
                if label == "A" and n % 9 == 0:
                    form = [f"once{n}"]
                at = int(rng.integers(0, 7 - len(form)))
                words[at : at + len(form)] = form
                tags[at : at + len(form)] = [f"B-{label}"] + [f"I-{label}"] * (len(form) - 1)
            sentences.append(Sentence(tuple(words), tuple(tags)))
            # The model mostly reads the given tags, and now and then another one.
            p = rng.dirichlet(np.full(len(TAGS), 0.5), size=len(words)).astype(np.float32) * 0.4
            for i, t in enumerate(tags):
                read = TAGS.index(t) if rng.random() > 0.2 else int(rng.integers(len(TAGS)))
                p[i, read] += 0.6
            probs.append(p / p.sum(axis=1, keepdims=True))
            d = np.stack([np.roll(p, shift, axis=1) * 0.5 + p * 0.5 for shift in (0, 1, 2)])
            dynamics.append((d / d.sum(axis=2, keepdims=True)).astype(np.float16))
            features.append((topics[topic] + rng.normal(0, 0.4, size=(len(words), DIMS))).astype(np.float16))
    ids = [f"d{i // 2}" for i in range(len(sentences))]
    return Corpus.from_sentences(sentences, ids), probs, dynamics, features


CORPUS, PROBS, DYNAMICS, FEATURES = scenario()


def scored(settings: AuditSettings) -> dict:
    """What the audit scores under `settings`: with the training dynamics and without."""
    crossval = CrossValResult(list(PROBS), TAGS, np.zeros(len(CORPUS), dtype=int), dynamics=list(DYNAMICS))
    out = {}
    for name, cv in (("dynamics", crossval), ("plain", None)):
        result = score(CORPUS, PROBS, TAGS, settings=settings, crossval=cv, features=FEATURES)
        out[name] = (
            [(i.id, i.type, i.score) for i in result.issues],
            np.round(np.asarray(result.sentence_scores), 9).tolist(),
            [(q.label, q.suggested, q.score, len(q.mentions)) for q in result.questions],
        )
    return out


BASE = scored(AuditSettings())

# A value for each field that the scenario's scores must feel.
CHANGES = {
    "dynamics_weight": 0.6,
    "model_weight": 4.0,
    "neighbour_weight": 0.9,
    "neighbour_min_share": 0.5,
    "neighbour_count": 4,
    "neighbour_context": 0,
    "tie_break": 0.2,
    "training_floor": 0.6,
    "rare_count": 5,
    "rare_share": 0.9,
    "one_off_doubt": 0.95,
    "cluster_size": 3,
    "min_cluster": 30,
    "min_excess": 0.5,
}


def test_the_scenario_exercises_every_kind_of_evidence():
    issues, _, questions = BASE["dynamics"]
    kinds = {kind for _, kind, _ in issues}
    assert {"wrong_tag", "missed_span", "ghost_span", "sparse"} <= kinds and questions


def test_every_scoring_field_is_named_here():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(ScoringSettings)}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_scoring_field_moves_the_scores(name: str):
    settings = AuditSettings()
    changed = settings.replace(scoring=settings.scoring.replace(**{name: CHANGES[name]}))
    assert getattr(changed.scoring, name) == CHANGES[name] != getattr(ScoringSettings(), name)
    assert scored(changed) != BASE, f"{name} changed nothing"


def test_the_summary_records_the_scoring_settings():
    settings = AuditSettings().replace(scoring=ScoringSettings(model_weight=2.0))
    result = score(CORPUS, PROBS, TAGS, settings=settings)
    assert result.summary["settings"]["scoring"] == {**ScoringSettings().to_dict(), "model_weight": 2.0}


@pytest.mark.parametrize(
    "field, value", [("dynamics_weight", 1.5), ("model_weight", 0), ("neighbour_count", 0), ("tie_break", -0.1)]
)
def test_scoring_settings_check_their_values(field: str, value: float):
    with pytest.raises(ConfigError, match=field):
        ScoringSettings(**{field: value})


def test_replace_sets_none_where_a_field_takes_it():
    from nerqa.config import TrainConfig

    config = TrainConfig(early_stopping_patience=2)
    assert config.replace(early_stopping_patience=None).early_stopping_patience is None
    assert config.with_options(early_stopping_patience=None).early_stopping_patience == 2
