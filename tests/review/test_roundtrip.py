"""Review tasks out to Label Studio, Prodigy and doccano, and back (`nerqa.review.roundtrip`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.review.roundtrip import char_spans, export_tasks, import_results, label_config
from nerqa.review.session import ReviewSession


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


def test_a_task_lists_its_linked_mentions_and_the_ticked_ones_are_decided_as_their_preview_shows(
    session: ReviewSession, tmp_path: Path
):
    from nerqa.review.apply import apply_decisions
    from nerqa.review.roundtrip import bracketed

    hd = next(i for i in session.queue() if i.type == "wrong_tag" and i.index == 0)
    (task,) = json.loads(export_tasks(session, [hd], "labelstudio"))
    listed = task["data"]["nerqa"]["linked"]
    assert [m["index"] for m in listed] == [1, 2]
    assert task["data"]["linked"] == [{"value": m["label"]} for m in listed]
    assert listed[1]["label"] == "s. 2 @0: [HD]C is frequent in families ."
    assert '<Choices name="linked" toName="text" choice="multiple" value="$linked"/>' in label_config(
        ["C"], linked=True
    )
    tokens = task["data"]["text"].split(" ")
    spans = [
        {"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": a, "end": b, "labels": [t]}}
        for a, b, t in char_spans(tokens, session.suggestion(hd))
    ]
    ticked = {"from_name": "linked", "to_name": "text", "type": "choices", "value": {"choices": [listed[1]["label"]]}}
    task["id"], task["annotations"] = 1, [{"id": 1, "result": [*spans, ticked], "completed_by": 3}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task]))
    decisions = import_results(session, export)
    assert [(d.index, d.action) for d in decisions] == [(0, "accept"), (2, "accept")]
    recorded, _ = session.store.record_new(decisions)
    assert len(recorded) == 2 and session.store.record_new(import_results(session, export)) == ([], 2)  # idempotent
    fixed = apply_decisions(session.result.corpus, session.store.effective()).corpus
    assert bracketed(fixed.sentences[2].tokens, fixed.sentences[2].spans) == listed[1]["label"].split(": ", 1)[1]
    assert fixed.sentences[1].tags == session.result.corpus.sentences[1].tags  # not ticked: as given


def test_prodigy_results_extend_to_every_listed_mention_only_with_linked(session: ReviewSession, tmp_path: Path):
    hd = next(i for i in session.queue() if i.type == "wrong_tag" and i.index == 0)
    (task,) = [json.loads(line) for line in export_tasks(session, [hd], "prodigy").splitlines()]
    assert task["meta"]["linked"] == 2 and len(task["nerqa"]["linked"]) == 2
    task["answer"] = "accept"
    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps(task) + "\n")
    assert [d.index for d in import_results(session, export)] == [0]
    assert [d.index for d in import_results(session, export, linked=True)] == [0, 1, 2]
