"""Typed span issues, their scores and stable ids (`nerqa.auditing.issues`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import NCBI, needs_shared
from review_helpers import TAGS, one_hot
from samples import relabel

from nerqa.auditing import audit, score
from nerqa.auditing.corpus_checks import inconsistent_issues
from nerqa.auditing.issues import Issue, sentence_keys
from nerqa.auditing.scoring import merge_issues
from nerqa.auditing.spans import span_issues
from nerqa.config import AuditSettings
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import parse_text, read_corpus


def _sentences(*rows: tuple[str, list[str]]) -> Corpus:
    return Corpus(
        tuple(Document(f"d{n}", (Sentence(tuple(text.split()), tuple(tags)),)) for n, (text, tags) in enumerate(rows))
    )


def test_span_issue_types():
    given = ["B-D", "I-D", "O", "B-C", "O", "O", "B-D", "I-D", "I-D", "O"]
    model = ["B-C", "I-C", "O", "O", "O", "B-D", "O", "B-D", "I-D", "O"]
    corpus = Corpus((Document("a", (Sentence(tuple("abcdefghij"), tuple(given)),)),))
    issues = {(i.type, i.start, i.end): i for i in span_issues(corpus, [one_hot(model)], TAGS)}
    assert set(issues) == {("wrong_tag", 0, 2), ("ghost_span", 3, 4), ("missed_span", 5, 6), ("span_shift", 6, 9)}
    assert issues[("wrong_tag", 0, 2)].suggested == "C"
    shift = issues[("span_shift", 6, 9)]
    assert (shift.suggested_start, shift.suggested_end) == (7, 9)
    assert all(i.score < 0.1 for i in issues.values())


def test_each_span_issue_states_how_sure_the_model_is_of_its_suggestion():
    given = ["B-D", "I-D", "O", "B-C", "O", "O", "B-D", "I-D", "I-D", "O"]
    model = ["B-C", "I-C", "O", "O", "O", "B-D", "O", "B-D", "I-D", "O"]
    probs = one_hot(model)  # 0.9 on the model's tag, 0.025 on each other: 0.925 on its type (B and I merged)
    probs[1] = [0.025, 0.025, 0.35, 0.025, 0.575]  # the second word of the wrong_tag: C at 0.6 only
    corpus = Corpus((Document("a", (Sentence(tuple("abcdefghij"), tuple(given)),)),))
    issues = {i.type: i for i in span_issues(corpus, [probs], TAGS)}
    assert issues["wrong_tag"].confidence == pytest.approx((0.925 + 0.6) / 2)  # C over both words
    assert issues["ghost_span"].confidence == pytest.approx(0.9)  # O over the removed span's word
    assert issues["missed_span"].confidence == pytest.approx(0.925)
    # The shift drops word 6 (O at 0.9) and keeps 7-8 as D (0.925): its whole reading.
    assert issues["span_shift"].confidence == pytest.approx((0.9 + 2 * 0.925) / 3)


def test_span_scores_weigh_the_model_against_the_rest_of_the_corpus():
    # "WAS" is labeled D in four other sentences: the model's doubt in sentence 0 is
    # outweighed. "number" is untagged in four other sentences: labeling it in sentence 5
    # is more suspicious than the model alone says.
    rows = [("the WAS gene", ["O", "B-D", "O"])] + [("WAS patients", ["B-D", "O"])] * 4
    rows += [("a number here", ["O", "B-D", "O"])] + [("a number", ["O", "O"])] * 4
    corpus = _sentences(*rows)
    probs = (
        [one_hot(["O", "O", "O"])]
        + [one_hot(["B-D", "O"])] * 4
        + [one_hot(["O", "O", "O"], 0.6)]
        + [one_hot(["O", "O"])] * 4
    )
    issues = {i.index: i for i in span_issues(corpus, probs, TAGS)}
    assert set(issues) == {0, 5}
    was, number = issues[0], issues[5]
    assert was.type == number.type == "ghost_span"
    assert (was.agree, was.elsewhere) == (4, 4) and (number.agree, number.elsewhere) == (0, 4)
    assert was.score == pytest.approx((4 + was.model_score) / 5, abs=1e-6) and was.score > 0.8
    assert number.score == pytest.approx(number.model_score / 5, abs=1e-6) and number.score < number.model_score
    assert "read D 4 of 4 times" in was.reason
    # Without other occurrences the score is the model's alone.
    alone = span_issues(_sentences(rows[0]), probs[:1], TAGS)[0]
    assert alone.score == alone.model_score and alone.elsewhere == 0


def test_inconsistent_surface_forms_rank_by_lopsidedness():
    text = "\n\n".join(["HD\tB-A"] * 8 + ["HD\tB-B"] * 1 + ["HD\tO"] * 3 + ["x\tB-A"])
    issues = inconsistent_issues(parse_text(text, "conll"))
    readings = sorted((i.given, i.suggested, i.score) for i in issues)
    assert readings == [("B", "A", pytest.approx(1 / 12, abs=1e-6))] + [("O", "A", 0.25)] * 3


def test_each_span_is_one_issue_with_all_its_evidence():
    # "WAS" in sentence 0 is labeled D against the model (a ghost span) and against the corpus
    # (untagged in the four other places: a minority reading), and D is a rare type: one issue.
    rows = (
        [("the WAS gene", ["O", "B-D", "O"])] + [("WAS patients", ["O", "O"])] * 4 + [("other text", ["B-C", "O"])] * 60
    )
    corpus = _sentences(*rows)
    probs = [one_hot(["O", "O", "O"])] + [one_hot(["O", "O"])] * 4 + [one_hot(["B-C", "O"])] * 60
    result = score(corpus, probs, TAGS)
    on_was = [i for i in result.issues if i.index == 0]
    assert len(on_was) == 1
    issue = on_was[0]
    assert issue.type == "ghost_span" and (issue.start, issue.end) == (1, 2) and issue.suggested == "O"
    assert issue.evidence == ("ghost_span", "inconsistent", "sparse")
    assert (
        "the model sees no entity here" in issue.reason
        and "reads O 4, D 1 across the corpus" in issue.reason
        and "only 1 entities" in issue.reason
    )
    # Ranked once, by the model issue's score (which already counts the other readings); every
    # span of the audit appears once.
    assert issue.score == next(i.score for i in span_issues(corpus, probs, TAGS) if i.index == 0)
    spans = [(i.index, i.start, i.end) for i in result.issues]
    assert len(spans) == len(set(spans))
    assert result.summary["issues"]["total"] == len(result.issues)


def test_a_neighbour_vote_never_turns_no_entity_here_into_a_retype():
    # The demo's planted ghost span "of": the model sees no entity, the neighbours (other
    # one-word mentions) vote DiseaseClass. The merged issue keeps the model's reading and fix.
    ghost = Issue("", 3, "D050", 1, 2, "ghost_span", "SpecificDisease", "O", 0.2, "of", "the model sees no entity here")
    vote = Issue(
        "",
        3,
        "D050",
        1,
        2,
        "wrong_tag",
        "SpecificDisease",
        "DiseaseClass",
        0.1,
        "of",
        "10 of 10 similar mentions",
        evidence=("neighbours",),
    )
    for order in ([ghost, vote], [vote, ghost]):
        [merged] = merge_issues(order)
        assert (merged.type, merged.suggested, merged.score) == ("ghost_span", "O", 0.2)
        assert merged.evidence == ("ghost_span", "neighbours")
        assert merged.reason.startswith("the model sees no entity here")
    # With no model issue on the span, the vote leads over the corpus checks.
    rare = Issue("", 3, "D050", 1, 2, "sparse", "SpecificDisease", "SpecificDisease", 0.05, "of", "rare")
    [merged] = merge_issues([rare, vote])
    assert (merged.type, merged.suggested, merged.evidence) == ("wrong_tag", "DiseaseClass", ("neighbours", "sparse"))


@needs_shared
def test_hd_is_inconsistent_in_ncbi_training_data():
    corpus = read_corpus(NCBI / "original/NCBI_corpus_training.txt")
    hd = [i for i in inconsistent_issues(corpus) if i.text == "HD"]
    assert hd and {i.given for i in hd} == {"SpecificDisease"} and hd[0].suggested == "Modifier"


def test_issue_ids_survive_a_relabel_and_a_re_audit(audited, tmp_path: Path):
    corpus, config, _, before = audited
    changed = 0  # "the breast cancer ..." -> cancer untagged
    after = audit(
        relabel(corpus, changed, 2, "O"), AuditSettings(k=3, mode="fast", training=config), cache_dir=tmp_path
    )
    content = lambda i: (i.index, i.start, i.end, i.type, i.given)  # noqa: E731
    old = {content(i): i for i in before.issues if i.index != changed}
    new = {content(i): i for i in after.issues if i.index != changed}
    shared = old.keys() & new.keys()
    assert len(shared) >= 0.8 * len(old) and len(shared) > 5
    assert all(old[key].id == new[key].id for key in shared)
    # Ranks moved (so rank-based ids would have changed), ids did not.
    rank_before = {i.id: n for n, i in enumerate(before.issues)}
    rank_after = {i.id: n for n, i in enumerate(after.issues)}
    assert any(rank_before[old[key].id] != rank_after[new[key].id] for key in shared)
    assert len({i.id for i in after.issues}) == len(after.issues)


def test_issue_ids_do_not_depend_on_the_sentence_position(audited):
    corpus, _, _, result = audited
    extra = Document("new", (Sentence(("the", "colon", "cancer"), ("O", "B-Disease", "I-Disease")),))
    shifted = Corpus((extra,) + corpus.documents)
    probs = [np.full((3, len(result.tags)), 1 / len(result.tags), dtype=np.float32)] + list(result.pred_probs)
    again = score(shifted, probs, result.tags)
    ids = {(i.index + 1, i.start, i.end, i.type, i.given): i.id for i in result.issues if i.type != "inconsistent"}
    moved = {(i.index, i.start, i.end, i.type, i.given): i.id for i in again.issues}
    shared = ids.keys() & moved.keys()
    assert len(shared) > 5 and all(ids[k] == moved[k] for k in shared)
    keys = sentence_keys(shifted)
    assert keys[1:] == sentence_keys(corpus) and len(set(keys)) == len(keys)


def test_training_margins_weigh_each_span_issue_and_the_sentence_scores():
    from nerqa.auditing import sentence_quality
    from nerqa.auditing.scoring import weigh_by_margins, word_margins

    corpus = Corpus((Document("a", (Sentence(tuple("abcd"), ("B-D", "I-D", "O", "B-C")),)),))
    # Two training-time records: the model kept reading word 1 as C although it was trained on D.
    first = one_hot(["B-D", "I-C", "O", "B-C"])
    second = one_hot(["B-D", "I-D", "O", "B-C"], 0.5)
    second[1] = [0.05, 0.05, 0.3, 0.05, 0.55]  # D 0.35 against C 0.6
    margins = word_margins(corpus, [np.stack([first, second]).astype(np.float16)], TAGS)[0]
    d_first, c_first = 0.925, 0.025 + 0.025  # word 0 in the first record: B-D 0.9 + I-D 0.025; C 0.05
    assert margins[0] == pytest.approx(((d_first - c_first) + (0.5 + 0.125 - 0.25)) / 2 / 2 + 0.5, abs=2e-3)
    assert margins[1] == pytest.approx(((0.05 - 0.925) + (0.35 - 0.6)) / 2 / 2 + 0.5, abs=2e-3)
    assert margins[1] < 0.5 < margins[0]
    assert word_margins(corpus, [None], TAGS)[0].tolist() == [1, 1, 1, 1]

    model = one_hot(["B-C", "I-C", "O", "B-C"])
    [issue] = span_issues(corpus, [model], TAGS)  # wrong_tag D -> C on words 0-1
    [weighed] = weigh_by_margins([issue], [margins])
    assert weighed.margin == pytest.approx(margins[1], abs=1e-6)
    assert weighed.score == pytest.approx(np.sqrt(issue.score * margins[1]), abs=1e-6)
    assert "still read another type higher" in weighed.reason
    # A sentence with no issue scores the square root of its lowest margin (cleanlab's score breaks ties).
    scores = sentence_quality(2, [weighed], np.array([1.0, 1.0]), np.array([margins.min(), 0.64]))
    assert scores[0] == pytest.approx(0.999 * weighed.score + 0.001, abs=1e-6)
    assert scores[1] == pytest.approx(0.999 * 0.8 + 0.001)
