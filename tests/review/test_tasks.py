"""Review tasks out to Label Studio, Prodigy and doccano, and back (`nerqa.review.tasks`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.review.session import ReviewSession
from nerqa.review.tasks import char_spans, export_tasks, import_results, label_config


def what_each_reviewer_decides(session: ReviewSession) -> dict[str, tuple[str, tuple[Span, ...]]]:
    """Per issue, the action and the spans a simulated reviewer chooses in the tool."""
    wanted = {}
    for n, issue in enumerate(session.queue()):
        if n % 3 == 0:
            wanted[issue.id] = ("accept", session.suggestion(issue))
        elif n % 3 == 1:
            wanted[issue.id] = ("keep", session.spans(issue.index))
        else:
            tokens = session.result.corpus.sentences[issue.index].tokens
            wanted[issue.id] = (
                "edit",
                (Span(len(tokens) - 1, len(tokens), "C"),)
                + tuple(s for s in session.spans(issue.index) if s.end < len(tokens)),
            )
    return {k: (a, tuple(sorted(set(s), key=lambda x: x.start))) for k, (a, s) in wanted.items()}


def annotate(tool: str, text: str, session: ReviewSession, wanted) -> str:
    """What the tool's export looks like after the reviewer's work."""
    if tool == "labelstudio":
        tasks = json.loads(text)
        for n, task in enumerate(tasks):
            issue_id = task["data"]["nerqa"]["issue_id"]
            tokens = task["data"]["text"].split(" ")
            result = [
                {
                    "from_name": "label",
                    "to_name": "text",
                    "type": "labels",
                    "value": {"start": a, "end": b, "labels": [label]},
                }
                for a, b, label in char_spans(tokens, wanted[issue_id][1])
            ]
            task["id"] = n + 1
            task["annotations"] = [
                {"id": 2 * n, "result": [], "was_cancelled": True, "completed_by": {"email": "bob@lab"}},
                {"id": 2 * n + 1, "result": result, "was_cancelled": False, "completed_by": {"email": "bob@lab"}},
            ]
        return json.dumps(tasks)
    lines = []
    for line in text.splitlines():
        task = json.loads(line)
        tokens = task["text"].split(" ")
        spans = char_spans(tokens, wanted[task["nerqa"]["issue_id"]][1])
        if tool == "prodigy":
            action = wanted[task["nerqa"]["issue_id"]][0]
            task["answer"] = {"accept": "accept", "keep": "reject", "edit": "accept"}[action]
            task["spans"] = [{"start": a, "end": b, "label": label} for a, b, label in spans]
            task["_annotator_id"] = "prodigy-bob"
        else:
            task["label"] = [[a, b, label] for a, b, label in spans]
            task["is_confirmed"] = True  # the reviewer ticked the example as done
        lines.append(json.dumps(task))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("tool", ["labelstudio", "prodigy", "doccano"])
def test_round_trip_through_each_tool_loses_no_decision(session: ReviewSession, tmp_path: Path, tool: str):
    issues = session.queue()
    text = export_tasks(session, issues, tool)
    wanted = what_each_reviewer_decides(session)
    exported = tmp_path / f"{tool}-export.json"
    exported.write_text(annotate(tool, text, session, wanted))
    decisions = import_results(session, exported, tool)
    assert [d.issue_id for d in decisions] == [i.id for i in issues]
    for d in decisions:
        action, after = wanted[d.issue_id]
        assert d.after == after and d.source == f"import:{tool}"
        # Accepting a suggestion that changes nothing (a sparse note) reads as keep.
        issue = session.result.issue(d.issue_id)
        assert d.action == action or (
            action == "accept" and d.action == "keep" and session.suggestion(issue) == session.spans(issue.index)
        )
    assert {d.reviewer for d in decisions} == {
        "labelstudio:bob@lab" if tool == "labelstudio" else "prodigy:prodigy-bob" if tool == "prodigy" else "alice"
    }
    recorded = session.store.record_all(decisions)
    assert [d.after for d in session.store.effective()] == [d.after for d in recorded]


def test_label_studio_tasks_carry_both_versions_and_a_config(session: ReviewSession):
    issue = next(i for i in session.queue() if i.type == "wrong_tag")
    (task,) = json.loads(export_tasks(session, [issue], "labelstudio"))
    given, suggested = task["predictions"]
    assert given["model_version"] == "given" and suggested["model_version"] == "nerqa-suggestion"
    assert [r["value"]["labels"] for r in given["result"]][0] == ["D"] and [
        r["value"]["labels"] for r in suggested["result"]
    ][0] == ["C"]
    assert task["data"]["text"][given["result"][0]["value"]["start"] : given["result"][0]["value"]["end"]] == "HD"
    assert (
        label_config(["C", "D"])
        == '<View><Labels name="label" toName="text"><Label value="C"/><Label value="D"/></Labels><Text '
        'name="text" value="$text"/></View>'
    )


def test_bad_results_give_one_clear_error(session: ReviewSession, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"text": "x", "label": [], "nerqa": {"issue_id": "wt-000000000000", "sentence_key": "k"}}) + "\n"
    )
    with pytest.raises(NerqaError, match=r"bad.jsonl, line 1: issue wt-000000000000 is not in this audit"):
        import_results(session, bad, "doccano")
    issue = session.queue()[0]
    line = json.loads(export_tasks(session, [issue], "doccano"))
    line["label"] = [[0, 3, "D"]]  # "Bre": not a token edge
    bad.write_text(json.dumps(line) + "\n")
    with pytest.raises(NerqaError, match=r"line 1: span 0-3 \(D\) does not start and end at token edges"):
        import_results(session, bad, "doccano")
    line["label"] = [[0, 999, "D"]]
    bad.write_text(json.dumps(line) + "\n")
    with pytest.raises(NerqaError, match=r"does not start and end at token edges"):
        import_results(session, bad, "doccano")
    bad.write_text("{not json\n")
    with pytest.raises(NerqaError, match=r"line 1: not JSON"):
        import_results(session, bad, "doccano")


def test_a_doccano_example_left_as_exported_is_a_skip_not_an_accept(session: ReviewSession, tmp_path: Path):
    issues = session.queue()[:2]
    lines = [json.loads(line) for line in export_tasks(session, issues, "doccano").splitlines()]
    lines[1]["is_confirmed"] = True  # the reviewer confirmed the suggestion as it was
    exported = tmp_path / "doccano.jsonl"
    exported.write_text("".join(json.dumps(r) + "\n" for r in lines))
    decisions = import_results(session, exported)
    assert [d.action for d in decisions] == ["skip", "accept"] and decisions[0].after == session.spans(issues[0].index)
