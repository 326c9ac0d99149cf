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

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from nerqa.errors import NerqaError
from nerqa.issues import Issue
from nerqa.review.decisions import Action, Decision
from nerqa.review.session import ReviewSession
from nerqa.review.spans import check_spans, ordered
from nerqa.tags import Span

TOOLS = ("labelstudio", "prodigy", "doccano")
FROM_NAME, TO_NAME = "label", "text"


def token_starts(tokens: Sequence[str]) -> list[int]:
    """Character offset of each token in `" ".join(tokens)`."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return starts


def char_spans(tokens: Sequence[str], spans: Sequence[Span]) -> list[tuple[int, int, str]]:
    starts = token_starts(tokens)
    return [(starts[s.start], starts[s.end - 1] + len(tokens[s.end - 1]), s.label) for s in spans]


def token_spans(tokens: Sequence[str], spans: Sequence[tuple[int, int, str]], *, where: str) -> tuple[Span, ...]:
    """Character spans over `" ".join(tokens)` back to token spans; a span that does not
    start and end on token edges is an error naming `where`."""
    starts = token_starts(tokens)
    first = {c: i for i, c in enumerate(starts)}
    last = {c + len(t): i for i, (c, t) in enumerate(zip(starts, tokens))}
    out = []
    for start, end, label in spans:
        if start not in first or end not in last:
            raise NerqaError(f"{where}: span {start}-{end} ({label}) does not start and end at token edges")
        out.append(Span(first[start], last[end] + 1, label))
    return ordered(out)


def label_config(types: Sequence[str]) -> str:
    """A Label Studio labeling config for the tasks: one `Labels` over the text."""
    labels = "".join(f'<Label value="{t}"/>' for t in types)
    return f'<View><Labels name="{FROM_NAME}" toName="{TO_NAME}">{labels}</Labels><Text name="{TO_NAME}" value="$text"/></View>'


def _meta(session: ReviewSession, issue: Issue) -> dict:
    return {"issue_id": issue.id, "type": issue.type, "score": issue.score, "given": issue.given, "suggested": issue.suggested,
            "reason": issue.reason, "sentence_key": session.keys[issue.index], "index": issue.index, "doc_id": issue.doc_id}


def _ls_result(tokens: Sequence[str], spans: Sequence[Span], prefix: str) -> list[dict]:
    text = " ".join(tokens)
    return [{"id": f"{prefix}{n}", "from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels",
             "value": {"start": a, "end": b, "text": text[a:b], "labels": [label]}}
            for n, (a, b, label) in enumerate(char_spans(tokens, spans))]


def export_tasks(session: ReviewSession, issues: Sequence[Issue], tool: str) -> str:
    """The review tasks for `issues` as the tool imports them (a JSON list for Label
    Studio, JSONL for Prodigy and doccano)."""
    corpus = session.result.corpus
    records = []
    for issue in issues:
        tokens = corpus.sentences[issue.index].tokens
        given, suggested = session.spans(issue.index), session.suggestion(issue)
        meta = _meta(session, issue)
        text = " ".join(tokens)
        if tool == "labelstudio":
            records.append({"data": {"text": text, "nerqa": meta}, "predictions": [
                {"model_version": "given", "result": _ls_result(tokens, given, "g")},
                {"model_version": "nerqa-suggestion", "score": 1 - issue.score, "result": _ls_result(tokens, suggested, "s")},
            ]})
        elif tool == "prodigy":
            starts = token_starts(tokens)
            records.append({
                "text": text,
                "tokens": [{"text": t, "start": c, "end": c + len(t), "id": i, "ws": i < len(tokens) - 1} for i, (t, c) in enumerate(zip(tokens, starts))],
                "spans": [{"start": a, "end": b, "token_start": s.start, "token_end": s.end - 1, "label": s.label}
                          for s, (a, b, _) in zip(suggested, char_spans(tokens, suggested))],
                "meta": {"issue": issue.id, "type": issue.type, "score": round(issue.score, 4), "given": issue.given, "suggested": issue.suggested},
                "nerqa": {**meta, "given_spans": [[a, b, label] for a, b, label in char_spans(tokens, given)]},
            })
        elif tool == "doccano":
            records.append({"text": text, "label": [[a, b, label] for a, b, label in char_spans(tokens, suggested)],
                            "nerqa": {**meta, "given_spans": [[a, b, label] for a, b, label in char_spans(tokens, given)]}})
        else:
            raise NerqaError(f"unknown tool {tool!r}; tools are {', '.join(TOOLS)}")
    if tool == "labelstudio":
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _records(path: Path) -> list[tuple[str, dict]]:
    """(where, record) pairs from a tool's export: a JSON list or JSONL."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise NerqaError(f"{path}, line {error.lineno}: not JSON: {error.msg}") from None
        return [(f"{path}, task {n}", r) for n, r in enumerate(data, start=1)]
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((f"{path}, line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise NerqaError(f"{path}, line {number}: not JSON: {error.msg}") from None
    return out


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
    if tool not in TOOLS:
        raise NerqaError(f"unknown tool {tool!r}; tools are {', '.join(TOOLS)}")
    issues = {i.id: i for i in session.result.issues}
    decisions = []
    for where, record in _records(path):
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
    for where, record in _records(path):
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
