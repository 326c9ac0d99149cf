"""`nerqa relabel`, `accept`, `tasks`, `decisions` and `apply` on good and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from review_helpers import review_audit, write_review_project
from typer.testing import CliRunner

from nerqa.auditing import write_outputs
from nerqa.data.formats import read_corpus, write_corpus
from nerqa.review.decisions import DecisionStore
from nerqa.review.opening import open_review
from nerqa.review.session import Filters, ReviewSession
from nerqa_cli.main import app


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_review_project(tmp_path)


def fails(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 1, result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def files(folder: Path) -> dict:
    """The folder's files, with the decisions database as its rows (its WAL files come and go)."""
    out: dict = {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith("decisions.sqlite")
    }
    if (folder / "decisions.sqlite").exists():
        with DecisionStore.open(folder, read_only=True) as store:
            out["decisions"] = [d.to_dict() for d in store.all()]
    return out


runner = CliRunner()


def test_the_cli_exports_and_imports_tasks_and_refuses_bad_input(tmp_path: Path):
    result = review_audit()
    write_corpus(result.corpus, tmp_path / "corpus.jsonl")
    write_outputs(result, tmp_path / "audit")
    args = [str(tmp_path / "corpus.jsonl"), str(tmp_path / "audit")]
    done = runner.invoke(
        app, ["tasks", *args, "--out", str(tmp_path / "tasks.jsonl"), "--tool", "doccano", "--type", "wrong_tag"]
    )
    assert done.exit_code == 0, done.output + done.stderr
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(tasks) == 3 and {t["nerqa"]["type"] for t in tasks} == {"wrong_tag"}
    (tmp_path / "done.jsonl").write_text("".join(json.dumps({**t, "label": []}) + "\n" for t in tasks))
    done = runner.invoke(
        app, ["decisions", "import", *args, str(tmp_path / "done.jsonl"), "--tool", "doccano", "--reviewer", "carol"]
    )
    assert done.exit_code == 0 and "Recorded 3 new decisions" in done.output
    rows = DecisionStore.open(tmp_path / "audit", read_only=True).all()
    assert [(r.action, r.reviewer, r.after) for r in rows] == [("edit", "carol", ())] * 3
    done = runner.invoke(app, ["decisions", "export", args[1], "--out", str(tmp_path / "log.jsonl")])
    assert done.exit_code == 0 and len((tmp_path / "log.jsonl").read_text().splitlines()) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**tasks[0], "label": [[0, 500, "D"]]}) + "\n")
    done = runner.invoke(app, ["decisions", "import", *args, str(bad), "--tool", "doccano"])
    assert (
        done.exit_code == 1
        and "does not start and end at token edges" in done.stderr
        and "Traceback" not in done.output + done.stderr
    )
    assert len(DecisionStore.open(tmp_path / "audit", read_only=True).all()) == 3  # nothing written
    done = runner.invoke(app, ["tasks", *args, "--tool", "excel", "--out", str(tmp_path / "t")])
    assert done.exit_code == 1 and "--tool must be one of labelstudio, prodigy, doccano" in done.stderr


def test_an_audit_of_another_corpus_is_refused(project: Path):
    other = project / "other.jsonl"
    text = (project / "corpus.jsonl").read_text().replace('"D"', '"C"', 1)
    other.write_text(text)
    before = files(project / "audit")
    line = fails("accept", other, project / "audit")
    assert "not of the corpus given" in line and files(project / "audit") == before


def test_a_decisions_file_with_unknown_ids_or_spans_outside_the_sentence(project: Path):
    (project / "elsewhere").mkdir()
    session = ReviewSession(review_audit(), DecisionStore.open(project / "elsewhere"), "bob")
    issue = session.queue()[0]
    session.decide(issue, "accept")
    (record,) = [d.to_dict() for d in session.store.all()]
    log = project / "log.jsonl"
    args = ("decisions", "import", project / "corpus.jsonl", project / "audit", log)
    log.write_text(json.dumps(record) + "\n")
    assert runner.invoke(app, [str(a) for a in args]).exit_code == 0
    assert [d.issue_id for d in DecisionStore.open(project / "audit", read_only=True).all()] == [issue.id]
    before = files(project / "audit")
    log.write_text(json.dumps({**record, "issue_id": "wt-ffffffffffff"}) + "\n")
    assert fails(*args) == f"Error: {log}, line 1: issue wt-ffffffffffff is not in this audit"
    log.write_text(json.dumps(record) + "\n" + json.dumps({**record, "after": [[0, 99, "D"]]}) + "\n")
    assert "line 2: span 0-99 is outside the sentence" in fails(*args)
    assert files(project / "audit") == before  # the first, good line was not recorded either


def test_a_read_only_audit_folder(project: Path, make_read_only):
    make_read_only(project / "audit")
    before = files(project / "audit")
    line = fails("accept", project / "corpus.jsonl", project / "audit", "--all")
    assert "cannot record decisions here: the audit folder is read-only" in line
    assert "read-only" in fails("relabel", project / "corpus.jsonl", project / "audit")  # the app does not start
    # Reading works: tasks can still be exported from a read-only audit.
    result = runner.invoke(
        app,
        [
            "tasks",
            str(project / "corpus.jsonl"),
            str(project / "audit"),
            "--out",
            str(project / "tasks.json"),
        ],
    )
    issues = (project / "audit" / "issues.jsonl").read_text().splitlines()
    assert result.exit_code == 0 and len(json.loads((project / "tasks.json").read_text())) == len(issues) > 0
    assert files(project / "audit") == before


def test_apply_refuses_to_overwrite_the_corpus_and_needs_decisions(project: Path):
    assert "no decisions recorded yet" in fails(
        "apply", project / "corpus.jsonl", project / "audit", "--out", project / "fixed.jsonl"
    )
    assert not (project / "fixed.jsonl").exists()
    ReviewSession(review_audit(), DecisionStore.open(project / "audit"), "x").decide(review_audit().issues[0], "accept")
    assert "the original is never modified" in fails(
        "apply", project / "corpus.jsonl", project / "audit", "--out", project / "corpus.jsonl"
    )
    blocker = project / "blocker"
    blocker.write_text("")
    assert "cannot write here" in fails(
        "apply", project / "corpus.jsonl", project / "audit", "--out", blocker / "fixed.jsonl"
    )


def test_bad_relabel_options(project: Path):
    args = ("relabel", project / "corpus.jsonl", project / "audit")
    assert "unknown issue types typo" in fails(*args, "--type", "typo")
    assert "no issue in" in fails(*args, "--max-score", "-1")
    shutil.rmtree(project / "audit")
    assert "no such file or folder" in fails("accept", project / "corpus.jsonl", project / "audit")


def test_apply_refuses_an_audit_of_another_corpus_and_writes_nothing(project: Path):
    other = project / "other.jsonl"
    other.write_text((project / "corpus.jsonl").read_text().replace('"D"', '"C"', 1))
    runner.invoke(app, ["accept", str(project / "corpus.jsonl"), str(project / "audit"), "--all"])
    line = fails("apply", other, project / "audit", "--out", project / "fixed.jsonl")
    assert "not of the corpus given" in line and "fingerprint" in line and "--changed-corpus" in line
    assert not (project / "fixed.jsonl").exists()


def test_apply_on_an_edited_corpus_replays_by_content_and_says_how_many_found_their_sentence(project: Path):
    assert runner.invoke(app, ["accept", str(project / "corpus.jsonl"), str(project / "audit"), "--all"]).exit_code == 0
    rows = [json.loads(line) for line in (project / "corpus.jsonl").read_text().splitlines()]
    edited = project / "edited.jsonl"
    edited.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))  # two of the four documents kept
    result = runner.invoke(
        app,
        [
            "apply",
            str(edited),
            str(project / "audit"),
            "--out",
            str(project / "fixed.jsonl"),
            "--changed-corpus",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    total = len(DecisionStore.open(project / "audit", read_only=True).effective())
    assert 0 < summary["sentences_found"] < total and summary["decisions_applied"] == summary["sentences_found"]
    unrelated = project / "unrelated.jsonl"
    unrelated.write_text(json.dumps({"id": "x", "text": "Nothing here .", "spans": []}) + "\n")
    line = fails("apply", unrelated, project / "audit", "--out", project / "none.jsonl", "--changed-corpus")
    assert "none of the" in line and not (project / "none.jsonl").exists()


def test_a_disagreement_is_reported_by_apply_and_settled_only_by_a_policy(project: Path):
    corpus, audit = str(project / "corpus.jsonl"), str(project / "audit")
    assert runner.invoke(app, ["accept", corpus, audit, "--reviewer", "bob", "--type", "ghost_span"]).exit_code == 0
    alice = ReviewSession(review_audit(), DecisionStore.open(project / "audit"), "alice")
    ghost = next(i for i in alice.result.issues if i.type == "ghost_span")
    alice.decide(ghost, "keep")
    result = runner.invoke(app, ["apply", corpus, audit, "--out", str(project / "fixed.jsonl")])
    assert result.exit_code == 0 and "Disagreement, not applied: ghost_span 'cancer'" in result.stderr
    assert "bob accept" in result.stderr and "alice keep" in result.stderr and "ghost_span" in result.stderr
    kept = [json.loads(line) for line in (project / "fixed.jsonl").read_text().splitlines()]
    assert any(s["label"] == "D" and r["text"][s["start"] : s["end"]] == "cancer" for r in kept for s in r["spans"])
    result = runner.invoke(
        app, ["apply", corpus, audit, "--out", str(project / "bob.jsonl"), "--resolve", "bob", "--json"]
    )
    assert json.loads(result.output)["disagreements"] == 0 and json.loads(result.output)["decisions_applied"] == 1


def test_imports_count_once_and_detect_the_tool(project: Path):
    corpus, audit = str(project / "corpus.jsonl"), str(project / "audit")
    tasks = project / "tasks.json"
    config_file = project / "config.xml"
    done = runner.invoke(app, ["tasks", corpus, audit, "--out", str(tasks), "--label-config", str(config_file)])
    assert done.exit_code == 0, done.stderr
    # Label Studio's labeling config: spans, and a tick box per linked mention.
    config = config_file.read_text()
    assert '<Labels name="label" toName="text">' in config and 'value="$linked"' in config
    exported = json.loads(tasks.read_text())
    for n, task in enumerate(exported):
        task["id"] = n + 1
        if n < 3:  # three annotated (the suggestion taken), the rest untouched
            task["annotations"] = [
                {"id": 10 + n, "result": task["predictions"][1]["result"], "completed_by": {"email": "bob@lab"}}
            ]
    results = project / "results.json"
    results.write_text(json.dumps(exported))
    first = runner.invoke(app, ["decisions", "import", corpus, audit, str(results)])
    assert (
        first.exit_code == 0
        and f"Recorded {len(exported)} new decisions" in first.output
        and "(labelstudio)" in first.output
    )
    rows = DecisionStore.open(project / "audit", read_only=True).all()
    assert [r.action for r in rows].count("skip") == len(exported) - 3 and "accept" not in [r.action for r in rows[3:]]
    again = runner.invoke(app, ["decisions", "import", corpus, audit, str(results)])
    assert (
        again.exit_code == 0
        and "Recorded 0 new decisions" in again.output
        and f"{len(exported)} were recorded by an earlier import" in again.output
    )
    assert len(DecisionStore.open(project / "audit", read_only=True).all()) == len(rows)
    line = fails("decisions", "import", corpus, audit, results, "--tool", "doccano")
    assert "looks like a labelstudio export, not doccano" in line
    odd = project / "odd.jsonl"
    odd.write_text('{"hello": 1}\n')
    assert "cannot tell which tool" in fails("decisions", "import", corpus, audit, odd)
    log = project / "log.jsonl"
    assert runner.invoke(app, ["decisions", "export", audit, "--out", str(log)]).exit_code == 0
    copy = project / "copy"
    shutil.copytree(project / "audit", copy)
    (copy / "decisions.sqlite").unlink()
    for _ in range(2):
        result = runner.invoke(app, ["decisions", "import", corpus, str(copy), str(log)])
        assert result.exit_code == 0, result.output
    assert "Recorded 0 new decisions" in result.output and len(DecisionStore.open(copy, read_only=True).all()) == len(
        rows
    )


def test_the_flags_renamed_before_0_1_0_are_gone(project: Path):
    """At 0.1.0 there is no user of an old flag to protect: each is an unknown option, and the
    audit folder is untouched."""
    before = files(project / "audit")
    for command, flag in [("relabel", "--accept-suggestions"), ("relabel", "--export-tasks"), ("audit", "--top")]:
        extra = [project / "audit"] if command == "relabel" else []
        result = runner.invoke(app, [command, str(project / "corpus.jsonl"), *map(str, extra), flag, "x"])
        assert result.exit_code == 2 and "No such option" in result.output, result.output
    assert runner.invoke(app, ["stats", str(project / "corpus.jsonl"), "--top", "5"]).exit_code == 2
    assert files(project / "audit") == before


def test_accept_can_keep_to_the_suggestions_the_model_is_sure_of(project: Path):
    issues = {i.id: i for i in review_audit().issues}
    sure = {i for i, issue in issues.items() if issue.confidence is not None and issue.confidence >= 0.91}
    assert sure and len(sure) < len(issues)  # the sample has suggestions on both sides of the bar
    args = ["accept", str(project / "corpus.jsonl"), str(project / "audit"), "--min-confidence", "0.91"]
    assert runner.invoke(app, args).exit_code == 0
    with DecisionStore.open(project / "audit", read_only=True) as store:
        accepted = {d.issue_id for d in store.all() if d.action == "accept" and d.issue_id in issues}
    assert accepted and accepted <= sure
    assert "--min-confidence must be between 0 and 1" in fails(*args[:3], "--min-confidence", "91")


def test_accept_without_a_filter_accepts_nothing_and_says_why_and_what_to_give(project: Path):
    result = runner.invoke(app, ["accept", str(project / "corpus.jsonl"), str(project / "audit")])
    assert result.exit_code == 0, result.stderr
    assert "Nothing accepted" in result.stderr and "90 %" in result.stderr and "--all" in result.stderr
    assert not (project / "audit" / "decisions.sqlite").exists() or DecisionStore.open(project / "audit").all() == []
    every = runner.invoke(app, ["accept", str(project / "corpus.jsonl"), str(project / "audit"), "--all"])
    assert every.exit_code == 0, every.stderr
    with DecisionStore.open(project / "audit", read_only=True) as store:
        assert {d.action for d in store.all()} == {"accept"}


def test_accept_linked_extends_each_acceptance_and_its_dry_run_is_what_apply_writes(project: Path):
    corpus, audit = str(project / "corpus.jsonl"), str(project / "audit")
    dry = runner.invoke(app, ["accept", corpus, audit, "--type", "wrong_tag", "--linked", "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert "extended to" in dry.stdout and "(linked)" in dry.stdout
    with open_review(read_corpus(project / "corpus.jsonl"), project / "audit", reviewer="x", record=False) as session:
        preview = session.bulk_accept(Filters(types=frozenset({"wrong_tag"})), dry_run=True, linked=True)
    assert any(d.source == "propagated" for d in preview)
    done = runner.invoke(app, ["accept", corpus, audit, "--type", "wrong_tag", "--linked"])
    assert done.exit_code == 0, done.stderr
    fixed = project / "fixed.jsonl"
    assert runner.invoke(app, ["apply", corpus, audit, "--out", str(fixed)]).exit_code == 0
    written = read_corpus(fixed)
    for d in preview:  # each sentence reads as the dry run's last decision on it left it
        last = [p for p in preview if p.index == d.index][-1]
        assert tuple(written.sentences[d.index].spans) == last.after


def test_autofix_is_held_back_on_a_clean_looking_corpus_and_apply_can_leave_its_fixes_out(project: Path):
    corpus, audit = str(project / "corpus.jsonl"), str(project / "audit")
    held = runner.invoke(app, ["autofix", corpus, audit])
    assert held.exit_code == 0 and "Nothing fixed" in held.stderr and "--force" in held.stderr
    dry = runner.invoke(app, ["autofix", corpus, audit, "--force", "--dry-run"])
    assert dry.exit_code == 0 and "Would fix" in dry.stdout and not (project / "audit" / "decisions.sqlite").exists()
    done = runner.invoke(app, ["autofix", corpus, audit, "--force"])
    assert done.exit_code == 0, done.stderr
    with DecisionStore.open(project / "audit", read_only=True) as store:
        fixes = store.all()
    assert fixes and {d.source for d in fixes} == {"auto"}
    exported = project / "decisions.jsonl"
    assert runner.invoke(app, ["decisions", "export", audit, "--out", str(exported)]).exit_code == 0
    assert [json.loads(line)["source"] for line in exported.read_text().splitlines()] == ["auto"] * len(fixes)
    with_fixes = runner.invoke(app, ["apply", corpus, audit, "--out", str(project / "a.jsonl"), "--json"])
    assert json.loads(with_fixes.stdout)["automatic_fixes_applied"] == len(fixes)
    without = runner.invoke(app, ["apply", corpus, audit, "--out", str(project / "b.jsonl"), "--no-auto"])
    assert without.exit_code == 0, without.stderr
    assert (project / "b.jsonl").read_text() == (project / "corpus.jsonl").read_text()
    undone = runner.invoke(app, ["autofix", corpus, audit, "--undo"])
    assert undone.exit_code == 0 and f"Took back {len(fixes)} automatic fix" in undone.stdout
