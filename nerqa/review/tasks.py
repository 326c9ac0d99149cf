"""Review tasks for the annotation tools people already use, and their results as decisions.

Each issue becomes one task: its sentence (tokens joined by single spaces), pre-annotated
with the spans as they are now and with nerqa's suggestion, and carrying the issue's id,
type, score and reason, and the sentence's content key, so the tool's export maps back.

- Label Studio (`labelstudio`): a JSON list of tasks with two `predictions` (`given`,
  `suggested`) for a `<Labels name="label" toName="text">` config (`label_config`); its JSON
  export's latest non-cancelled annotation is the decision.
- Prodigy (`prodigy`): JSONL with `tokens` and `spans` (the suggestion, `token_end`
  inclusive as Prodigy has it) and the given spans under `nerqa`; `answer` accept takes the
  task's spans, reject keeps the given labels, ignore skips.
- doccano (`doccano`): JSONL with `text` and `label` (`[start, end, type]`, the suggestion)
  and the given spans under `nerqa`; its export's `label` is the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from nerqa.errors import NerqaError
from nerqa.issues import Issue
from nerqa.review.decisions import Action, Decision
from nerqa.review.session import ReviewSession
from nerqa.review.spans import check_spans, ordered
from nerqa.tags import Span
from nerqa.tools import TOOLS, char_spans, check_tool, dump_tasks, label_config, read_records, task_record, token_spans

__all__ = ["TOOLS", "char_spans", "export_tasks", "import_decision_log", "import_results", "label_config", "token_spans"]


def _meta(session: ReviewSession, issue: Issue) -> dict:
    return {"issue_id": issue.id, "type": issue.type, "score": issue.score, "given": issue.given, "suggested": issue.suggested,
            "reason": issue.reason, "sentence_key": session.keys[issue.index], "index": issue.index, "doc_id": issue.doc_id}


def export_tasks(session: ReviewSession, issues: Sequence[Issue], tool: str) -> str:
    """The review tasks for `issues` as the tool imports them (a JSON list for Label
    Studio, JSONL for Prodigy and doccano)."""
    check_tool(tool)
    corpus = session.result.corpus
    records = []
    for issue in issues:
        tokens = corpus.sentences[issue.index].tokens
        predictions = [("given", session.spans(issue.index), None), ("nerqa-suggestion", session.suggestion(issue), 1 - issue.score)]
        meta = {"issue": issue.id, "type": issue.type, "score": round(issue.score, 4), "given": issue.given, "suggested": issue.suggested}
        records.append(task_record(tool, tokens, predictions, _meta(session, issue), meta=meta))
    return dump_tasks(records, tool)


def _nerqa_meta(record: dict, where: str) -> dict:
    meta = record.get("nerqa") or record.get("data", {}).get("nerqa") or record.get("meta", {}).get("nerqa")
    if not isinstance(meta, dict) or "issue_id" not in meta or "sentence_key" not in meta:
        raise NerqaError(f"{where}: not a nerqa review task (no nerqa issue id); export the tasks with nerqa relabel --export-tasks")
    return meta


def _ls_spans(result: list, where: str) -> list[tuple[int, int, str]]:
    spans = []
    for item in result:
        if item.get("type") != "labels":
            continue
        value = item.get("value", {})
        labels = value.get("labels") or []
        if len(labels) != 1:
            raise NerqaError(f"{where}: a region has {len(labels)} labels; give each span one type")
        spans.append((int(value["start"]), int(value["end"]), str(labels[0])))
    return spans


def import_results(session: ReviewSession, path: Path, tool: str, *, reviewer: str | None = None) -> list[Decision]:
    """Decisions from the tool's exported results (not yet recorded: the caller records them).

    Every task must name an issue of this audit and its sentence; spans must lie on token
    edges inside the sentence. A task nobody annotated yields no decision.
    """
    check_tool(tool)
    issues = {i.id: i for i in session.result.issues}
    decisions = []
    for where, record in read_records(path):
        if not isinstance(record, dict):
            raise NerqaError(f"{where}: expected a JSON object")
        meta = _nerqa_meta(record, where)
        issue = issues.get(meta["issue_id"])
        if issue is None:
            raise NerqaError(f"{where}: issue {meta['issue_id']} is not in this audit")
        if session.keys[issue.index] != meta["sentence_key"]:
            raise NerqaError(f"{where}: issue {issue.id} belongs to another sentence than this audit's")
        tokens = session.result.corpus.sentences[issue.index].tokens
        name = reviewer or session.reviewer
        action: Action | None = None
        if tool == "labelstudio":
            annotations = [a for a in record.get("annotations", []) if not a.get("was_cancelled")]
            if not annotations:
                continue
            latest = max(annotations, key=lambda a: (a.get("updated_at") or a.get("created_at") or "", a.get("id") or 0))
            after = token_spans(tokens, _ls_spans(latest.get("result", []), where), where=where)
            who = latest.get("completed_by")
            name = reviewer or (f"labelstudio:{who.get('email', who.get('id'))}" if isinstance(who, dict) else f"labelstudio:{who}" if who is not None else name)
        elif tool == "prodigy":
            answer = record.get("answer")
            if answer is None:
                continue
            if answer == "ignore":
                action, after = "skip", session.spans(issue.index)
            elif answer == "reject":
                action, after = "keep", session.spans(issue.index)
            elif answer == "accept":
                after = token_spans(tokens, [(int(s["start"]), int(s["end"]), str(s["label"])) for s in record.get("spans", [])], where=where)
            else:
                raise NerqaError(f"{where}: answer {answer!r} is not accept, reject or ignore")
            name = reviewer or (f"prodigy:{record['_annotator_id']}" if record.get("_annotator_id") else name)
        else:
            labels = record.get("label", record.get("entities"))
            if labels is None:
                continue
            spans = []
            for item in labels:
                if isinstance(item, dict):
                    spans.append((int(item["start_offset"]), int(item["end_offset"]), str(item["label"])))
                else:
                    spans.append((int(item[0]), int(item[1]), str(item[2])))
            after = token_spans(tokens, spans, where=where)
        check_spans(after, len(tokens), where=where)
        if action is None:
            # No change reads as keep (also where the suggestion is to change nothing).
            action = "keep" if after == session.spans(issue.index) else "accept" if after == session.suggestion(issue) else "edit"
        decision = session.make_decision(issue.id, issue.index, action, after, source=f"import:{tool}", batch=f"import-{path.name}")
        decisions.append(replace(decision, reviewer=name))
    return decisions


def import_decision_log(session: ReviewSession, path: Path) -> list[Decision]:
    """Decisions from another copy's `--export-decisions` file (e.g. a second reviewer's),
    checked against this audit: every issue id must be this audit's (or a propagated `pr-`
    id), its sentence must be here with the same labels, and every span inside it. Undo rows
    are dropped together with the rows they retract. Not recorded: the caller records them."""
    rows = []
    for where, record in read_records(path):
        try:
            before = tuple(Span(int(a), int(b), str(c)) for a, b, c in record["before"])
            after = tuple(Span(int(a), int(b), str(c)) for a, b, c in record["after"])
            rows.append((where, record, before, after))
        except (KeyError, TypeError, ValueError) as error:
            raise NerqaError(f"{where}: not a nerqa decision record ({error})") from None
    undone = {seq for _, r, _, _ in rows if r.get("action") == "undo" for seq in r.get("undoes", [])}
    issues = {i.id: i for i in session.result.issues}
    out = []
    for where, record, before, after in rows:
        if record.get("action") == "undo" or record.get("seq") in undone:
            continue
        issue_id = str(record.get("issue_id"))
        if issue_id not in issues and not issue_id.startswith("pr-"):
            raise NerqaError(f"{where}: issue {issue_id} is not in this audit")
        index = session.by_key.get(record.get("sentence_key"))
        if index is None:
            raise NerqaError(f"{where}: its sentence is not in this audit's corpus")
        if record.get("sentence_hash") != session.replay.hash(index):
            raise NerqaError(f"{where}: its sentence's labels differ from this audit's")
        length = len(session.result.corpus.sentences[index])
        check_spans(before, length, where=where)
        check_spans(after, length, where=where)
        if record.get("action") not in ("accept", "keep", "edit", "skip"):
            raise NerqaError(f"{where}: unknown action {record.get('action')!r}")
        out.append(Decision(
            issue_id=issue_id, sentence_key=session.keys[index], sentence_hash=session.replay.hash(index), action=record["action"],
            before=ordered(before), after=ordered(after), reviewer=str(record.get("reviewer") or session.reviewer),
            source=str(record.get("source") or "review"), doc_id=session.result.corpus.sentence_doc_ids[index], index=index,
            batch=record.get("batch"),
        ))
    return out
