"""Several files audited as one corpus (`nerqa.data.parts`): joined in order, cut back into the
same files, every byte of each kept; through the CLI, audit reports per file and apply writes
each file back under its name."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import TOY
from strategies import conll_files
from typer.testing import CliRunner

from nerqa.data.corpus import Corpus
from nerqa.data.formats import dump_text, parse_text, read_corpus, write_corpus
from nerqa.data.parts import Part, join, part_index, split
from nerqa.data.tags import tags_from_spans
from nerqa.errors import NerqaError
from nerqa_cli.main import app

runner = CliRunner()


@given(st.lists(conll_files(), min_size=1, max_size=4))
@settings(max_examples=60, deadline=None)
def test_joined_files_split_back_into_the_same_files_byte_for_byte(cases):
    texts = [text for text, _ in cases]
    corpora = {f"part{i}.txt": parse_text(text, "conll") for i, text in enumerate(texts)}
    joined, parts = join(corpora)
    assert [p.name for p in parts] == list(corpora)
    assert len(joined) == sum(len(c) for c in corpora.values())
    assert len(joined.documents) == sum(len(c.documents) for c in corpora.values())
    # Each sentence's part is the file it came from, and its place in the joined corpus follows the files' order.
    owner = part_index(parts)
    expected = [i for i, c in enumerate(corpora.values()) for _ in c.sentences]
    assert owner == expected
    assert [joined.sentences[k] for k, o in enumerate(owner) if o == 1] == list(
        list(corpora.values())[1].sentences if len(corpora) > 1 else []
    )
    back = split(joined, parts)
    assert list(back) == list(corpora)
    assert [dump_text(c, "conll") for c in back.values()] == texts


def test_a_corpus_of_another_shape_is_refused():
    joined, parts = join({"a.txt": TOY, "b.txt": TOY})
    with pytest.raises(NerqaError, match="documents"):
        split(Corpus(joined.documents[:-1]), parts)
    with pytest.raises(NerqaError, match="a.txt: 48 sentences where the audit had 49"):
        split(joined, (Part("a.txt", len(TOY.documents), len(TOY) + 1), Part("b.txt", len(TOY.documents), len(TOY))))


A_TEXT = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

"""
B_TEXT = """BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O

The DT B-NP O
European NNP I-NP B-ORG
Commission NNP I-NP I-ORG
said VBD B-VP O

"""


def _audit_reading_person_as_location(corpus: Corpus, folder: Path) -> None:
    """An audit folder for `corpus` whose model reads "Peter Blackburn" as a location, that
    suggestion accepted (the only decision)."""
    from nerqa.auditing import score, write_outputs
    from nerqa.review.opening import open_review
    from nerqa.review.session import Filters

    tags = ("O",) + tuple(f"{p}-{t}" for t in ("LOC", "MISC", "ORG", "PER") for p in "BI")
    probs = []
    for sentence in corpus.sentences:
        reading = sentence.tags
        if "Peter" in sentence.tokens:
            reading = tuple(tags_from_spans([replace(s, label="LOC") for s in sentence.spans], len(sentence)))
        p = np.full((len(reading), len(tags)), 0.01, dtype=np.float32)
        p[np.arange(len(reading)), [tags.index(t) for t in reading]] = 1 - 0.01 * (len(tags) - 1)
        probs.append(p)
    write_outputs(score(corpus, probs, tags), folder)
    with open_review(corpus, folder, reviewer="tester", filters=Filters(types=frozenset({"wrong_tag"}))) as session:
        assert len(session.bulk_accept(session.filters)) == 1


def test_apply_writes_each_audited_file_back_under_its_name(tmp_path: Path):
    (tmp_path / "in").mkdir()
    a, b = tmp_path / "in" / "a.txt", tmp_path / "in" / "b.txt"
    a.write_text(A_TEXT, encoding="utf-8")
    b.write_text(B_TEXT, encoding="utf-8")
    joined, _ = join({"a.txt": read_corpus(a), "b.txt": read_corpus(b)})
    _audit_reading_person_as_location(joined, tmp_path / "audit")
    result = runner.invoke(app, ["apply", str(a), str(b), str(tmp_path / "audit"), "--out", str(tmp_path / "fixed")])
    assert result.exit_code == 0, result.output + result.stderr
    assert sorted(p.name for p in (tmp_path / "fixed").iterdir() if not p.name.startswith(".")) == ["a.txt", "b.txt"]
    assert (tmp_path / "fixed" / "b.txt").read_bytes() == b.read_bytes()  # no decision touched it
    assert (tmp_path / "fixed" / "a.txt").read_text(encoding="utf-8") == A_TEXT.replace(
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER", "Peter NNP B-NP B-LOC\nBlackburn NNP I-NP I-LOC"
    )
    # The files in another order are another corpus: refused, nothing written.
    again = runner.invoke(app, ["apply", str(b), str(a), str(tmp_path / "audit"), "--out", str(tmp_path / "other")])
    assert again.exit_code != 0 and "Traceback" not in again.output and not (tmp_path / "other").exists()
    # Writing into the folder of the originals would replace them: refused.
    into = runner.invoke(
        app, ["apply", str(a), str(b), str(tmp_path / "audit"), "--out", str(tmp_path / "in"), "--force"]
    )
    assert into.exit_code == 1 and "the originals are never modified" in into.output
    assert a.read_text(encoding="utf-8") == A_TEXT


def test_two_files_of_one_name_are_refused_in_one_line(tmp_path: Path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        write_corpus(TOY, tmp_path / folder / "train.tsv")
    result = runner.invoke(
        app,
        ["audit", str(tmp_path / "x" / "train.tsv"), str(tmp_path / "y" / "train.tsv"), "--out", str(tmp_path / "a")],
    )
    assert result.exit_code == 1 and "has the same name" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a").exists()


def test_audit_of_two_files_reports_each_and_the_review_commands_take_them(tiny_model: Path, tmp_path: Path):
    first, second = Corpus(TOY.documents[:30], name="train"), Corpus(TOY.documents[30:], name="dev")
    write_corpus(first, tmp_path / "train.tsv")
    write_corpus(second, tmp_path / "dev.tsv")
    files = [str(tmp_path / "train.tsv"), str(tmp_path / "dev.tsv")]
    out = tmp_path / "audit"
    result = runner.invoke(
        app, ["audit", *files, "--model", str(tiny_model), "--mode", "fast", "-k", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    parts = summary["parts"]
    assert [(p["name"], p["sentences"], p["first_sentence"]) for p in parts] == [
        ("train.tsv", 30, 0),
        ("dev.tsv", len(TOY) - 30, 30),
    ]
    issues = [json.loads(line) for line in (out / "issues.jsonl").read_text().splitlines()]
    assert [p["issues"]["total"] for p in parts] == [
        sum(i["index"] < 30 for i in issues),
        sum(i["index"] >= 30 for i in issues),
    ]
    assert summary["corpus"]["path"] == " ".join(files)
    assert "Per file" in result.output and "dev.tsv" in result.output
    report = (out / "report.html").read_text()
    assert '<select id="fp">' in report and '<option value="dev.tsv">' in report
    assert report.count('data-part="') == min(len(issues), report.count('class="issue" data-type'))
    # The review commands read the same files in the same order; apply writes each back.
    dry = runner.invoke(app, ["accept", *files, str(out), "--all", "--dry-run"])
    assert dry.exit_code == 0, dry.output + dry.stderr
    accepted = runner.invoke(app, ["accept", *files, str(out), "--all"])
    assert accepted.exit_code == 0, accepted.output + accepted.stderr
    from nerqa.review.decisions import DecisionStore

    with DecisionStore.open(out, read_only=True) as store:
        touched = {d.index for d in store.all()}
    assert touched, "the test needs a decision to apply"
    applied = runner.invoke(app, ["apply", *files, str(out), "--out", str(tmp_path / "fixed")])
    assert applied.exit_code == 0, applied.output + applied.stderr
    for name, first_index, size in (("train.tsv", 0, 30), ("dev.tsv", 30, len(TOY) - 30)):
        fixed, given = read_corpus(tmp_path / "fixed" / name), read_corpus(tmp_path / name)
        assert [s.tokens for s in fixed.sentences] == [s.tokens for s in given.sentences]
        changed = {
            first_index + i for i, (f, g) in enumerate(zip(fixed.sentences, given.sentences)) if f.tags != g.tags
        }
        assert changed == {i for i in touched if first_index <= i < first_index + size}
        if not changed:
            assert (tmp_path / "fixed" / name).read_bytes() == (tmp_path / name).read_bytes()
