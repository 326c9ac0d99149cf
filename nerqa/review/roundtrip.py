"""Review tasks for the annotation tools, and their results as decisions.

Review tasks for the annotation tools people already use, and their results as decisions.

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
  and the given spans under `nerqa`; its export's `label` is the decision when it differs
  from the suggestion exported or the example is marked confirmed (`is_confirmed`,
  `confirmed` or `approved` true); an example left as exported is untouched.

Importing is idempotent: each decision carries its source identity as `origin` (the tool,
task and annotation ids, and the annotation's time), and the store holds each origin once, so
a file imported twice records nothing new. A task nobody touched comes back as a skip. The
tool is read from the file's shape (`detect_tool`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nerqa.auditing.issues import Issue
from nerqa.data.tags import Span
from nerqa.errors import NerqaError
from nerqa.interop.task_formats import (
    LINKED_NAME,
    TOOLS,
    char_spans,
    check_tool,
    dump_tasks,
    label_config,
    read_records,
    task_record,
    token_spans,
)
from nerqa.review.decisions import Action, Decision
from nerqa.review.session import ReviewSession
from nerqa.review.spans import check_spans, ordered, suggested_fix

__all__ = [
    "TOOLS",
    "char_spans",
    "detect_tool",
    "export_tasks",
    "import_decision_log",
    "import_results",
    "label_config",
    "token_spans",
]
_CONFIRMED = ("is_confirmed", "isConfirmed", "confirmed", "approved")


def _meta(session: ReviewSession, issue: Issue) -> dict:
    return {
        "issue_id": issue.id,
        "type": issue.type,
        "score": issue.score,
        "given": issue.given,
        "suggested": issue.suggested,
        "reason": issue.reason,
        "sentence_key": session.keys[issue.index],
        "index": issue.index,
        "doc_id": issue.doc_id,
    }


def bracketed(tokens: Sequence[str], spans: Sequence[Span]) -> str:
    """A sentence with each span in brackets followed by its type: `In [HD]C the risk`."""
    starts, ends = {s.start: s for s in spans}, {s.end - 1: s for s in spans}
    return " ".join(
        ("[" if i in starts else "") + token + (f"]{ends[i].label}" if i in ends else "")
        for i, token in enumerate(tokens)
    )


def linked_meta(session: ReviewSession, issue: Issue) -> list[dict]:
    """The mentions a decision on `issue` can be extended to (`ReviewSession.linked_mentions`),
    each as a task lists it: its sentence (`index`, `sentence_key`), where the change goes
    (`at`), the sentence's spans with the suggestion's change made (`after`) and a `label`
    showing that reading (`s. 12: In [HD]C the risk ...`)."""
    corpus = session.result.corpus
    return [
        {
            "index": o.index,
            "sentence_key": session.keys[o.index],
            "at": o.at,
            "after": [[s.start, s.end, s.label] for s in o.after],
            "label": f"s. {o.index} @{o.at}: {bracketed(corpus.sentences[o.index].tokens, o.after)}",
        }
        for o in session.linked_mentions(issue)
    ]


def export_tasks(session: ReviewSession, issues: Sequence[Issue], tool: str) -> str:
    """The review tasks for `issues` as the tool imports them (a JSON list for Label
    Studio, JSONL for Prodigy and doccano). Each lists under `nerqa.linked` the mentions the
    decision can be extended to (`linked_meta`); Label Studio shows them as checkboxes
    (`label_config(types, linked=True)`)."""
    check_tool(tool)
    corpus = session.result.corpus
    records = []
    for issue in issues:
        tokens = corpus.sentences[issue.index].tokens
        predictions = [
            ("given", session.spans(issue.index), None),
            ("nerqa-suggestion", session.suggestion(issue), 1 - issue.score),
        ]
        meta = {
            "issue": issue.id,
            "type": issue.type,
            "score": round(issue.score, 4),
            "given": issue.given,
            "suggested": issue.suggested,
        }
        linked = linked_meta(session, issue)
        if linked:
            meta["linked"] = len(linked)
        nerqa = {**_meta(session, issue), "linked": linked}
        records.append(task_record(tool, tokens, predictions, nerqa, meta=meta))
    return dump_tasks(records, tool)


def _nerqa_meta(record: dict, where: str) -> dict:
    meta = record.get("nerqa") or record.get("data", {}).get("nerqa") or record.get("meta", {}).get("nerqa")
    if not isinstance(meta, dict) or "issue_id" not in meta or "sentence_key" not in meta:
        raise NerqaError(f"{where}: not a nerqa review task (no nerqa issue id); export the tasks with nerqa tasks")
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


def _shape(record: Any) -> str | None:
    """The tool whose export a record looks like, `decisions` for a nerqa decision log, else None."""
    if not isinstance(record, dict):
        return None
    if {"action", "sentence_key", "before", "after"} <= record.keys():
        return "decisions"
    if isinstance(record.get("data"), dict) and ("annotations" in record or "predictions" in record):
        return "labelstudio"
    if "answer" in record or "_task_hash" in record or "_input_hash" in record:
        return "prodigy"
    if "text" in record and ("label" in record or "entities" in record):
        return "doccano"
    if "text" in record and "spans" in record and "tokens" in record:
        return "prodigy"  # a Prodigy task not answered yet
    return None


def detect_tool(records: Sequence[tuple[str, Any]], path: Path | str) -> str:
    """The tool whose export `records` are (`labelstudio`, `prodigy`, `doccano`) or `decisions`
    (a nerqa decision log). Raises `NerqaError` in one line when the shapes are mixed or
    unknown, or there is no record."""
    if not records:
        raise NerqaError(f"{path}: holds no task or decision")
    shapes = {_shape(record) for _, record in records}
    if None in shapes:
        where = next(w for w, r in records if _shape(r) is None)
        raise NerqaError(
            f"{where}: not a Label Studio, Prodigy or doccano task, nor a nerqa decision; cannot tell which tool "
            "exported it"
        )
    if len(shapes) > 1:
        raise NerqaError(f"{path}: mixes records of {', '.join(sorted(shapes))}; import one tool's export at a time")
    return shapes.pop()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def import_results(
    session: ReviewSession,
    path: Path,
    tool: str | None = None,
    *,
    reviewer: str | None = None,
    records: Sequence[tuple[str, Any]] | None = None,
    linked: bool = False,
) -> list[Decision]:
    """Decisions from the tool's exported results (not yet recorded: the caller records them
    with `DecisionStore.record_new`, which skips those an earlier import recorded).

    A decision that changes labels is extended to the linked mentions its task listed
    (`linked_meta`): in Label Studio to those the annotator ticked, in Prodigy and doccano to
    all of them with `linked`. A mention that reads otherwise now is left alone.

    Every task must name an issue of this audit and its sentence; spans must lie on token
    edges inside the sentence. A task nobody touched yields a skip. `tool` None: detected
    from the records' shape; a `tool` the file's shape contradicts is an error.
    """
    records = read_records(path) if records is None else records
    detected = detect_tool(records, path)
    if detected == "decisions":
        raise NerqaError(f"{path}: a nerqa decision log, not a tool's export; import it with nerqa decisions import")
    if tool is not None and check_tool(tool) != detected:
        raise NerqaError(
            f"{path}: looks like a {detected} export, not {tool}; leave out --tool to read it as {detected}"
        )
    tool = detected
    issues = {i.id: i for i in session.result.issues}
    decisions = []
    states = list(session.states)
    for where, record in records:
        meta = _nerqa_meta(record, where)
        issue = issues.get(meta["issue_id"])
        if issue is None:
            raise NerqaError(f"{where}: issue {meta['issue_id']} is not in this audit")
        if session.keys[issue.index] != meta["sentence_key"]:
            raise NerqaError(f"{where}: issue {issue.id} belongs to another sentence than this audit's")
        tokens = session.result.corpus.sentences[issue.index].tokens
        base = session.base(issue)
        read = {"labelstudio": _labelstudio_result, "prodigy": _prodigy_result, "doccano": _doccano_result}[tool]
        action, after, who, origin = read(record, meta, tokens, base, suggested_fix(base, issue), where)
        name = reviewer or who or session.reviewer
        check_spans(after, len(tokens), where=where)
        if action is None:
            action = "keep" if after == base else "accept" if after == suggested_fix(base, issue) else "edit"
        decision = session.make_decision(
            issue.id, issue.index, action, after, source=f"import:{tool}", batch=f"import-{path.name}", before=base
        )
        decision = replace(decision, reviewer=name, origin=origin, supersedes=session.replaces(issue, reviewer=name))
        decisions.append(decision)
        states[issue.index] = after
        chosen = _chosen_linked(record, meta, tool, linked, where)
        if chosen and decision.changes:
            found = {(o.index, o.at): o for o in session.linked_mentions(issue, after)}
            occurrences = [found[key] for key in chosen if key in found]  # one that changed since is left alone
            for extension in session.extension(decision, occurrences, states, decision.batch or ""):
                decisions.append(
                    replace(
                        extension, reviewer=name, origin=f"{origin}:linked={extension.index}", source=f"import:{tool}"
                    )
                )
    return decisions


def _chosen_linked(record: dict, meta: dict, tool: str, every: bool, where: str) -> list[tuple[int, int]]:
    """The linked mentions (`(sentence, at)`) a task's decision is extended to: in Label
    Studio, the ones ticked; in the others, all listed when `every` (`--linked`)."""
    listed = meta.get("linked") or []
    if tool != "labelstudio":
        return [(int(m["index"]), int(m["at"])) for m in listed] if every else []
    annotations = [a for a in record.get("annotations", []) if not a.get("was_cancelled")]
    if not annotations:
        return []
    latest = max(annotations, key=lambda a: (a.get("updated_at") or a.get("created_at") or "", a.get("id") or 0))
    ticked = {
        choice
        for item in latest.get("result", [])
        if item.get("type") == "choices" and item.get("from_name") == LINKED_NAME
        for choice in item.get("value", {}).get("choices", [])
    }
    by_label = {m["label"]: (int(m["index"]), int(m["at"])) for m in listed}
    unknown = sorted(ticked - by_label.keys())
    if unknown:
        raise NerqaError(f"{where}: ticked linked mention {unknown[0]!r} is not one this task listed")
    return [by_label[label] for label in sorted(ticked, key=lambda label: by_label[label])]


# Each reads one task of a tool's export: `(action or None to infer, spans after, the annotator
# as the tool names them or None, the decision's origin)`.
Result = tuple["Action | None", tuple[Span, ...], "str | None", str]


def _labelstudio_result(record: dict, meta: dict, tokens, base, suggestion, where: str) -> Result:
    annotations = [a for a in record.get("annotations", []) if not a.get("was_cancelled")]
    task = record.get("id", meta["issue_id"])
    if not annotations:
        return "skip", base, None, f"labelstudio:task={task}:untouched"
    latest = max(annotations, key=lambda a: (a.get("updated_at") or a.get("created_at") or "", a.get("id") or 0))
    after = token_spans(tokens, _ls_spans(latest.get("result", []), where), where=where)
    who = latest.get("completed_by")
    name = f"labelstudio:{who.get('email', who.get('id'))}" if isinstance(who, dict) else None
    if name is None and who is not None:
        name = f"labelstudio:{who}"
    stamp = latest.get("updated_at") or latest.get("created_at") or _digest(latest.get("result"))
    return None, after, name, f"labelstudio:task={task}:annotation={latest.get('id')}:{stamp}"


def _prodigy_result(record: dict, meta: dict, tokens, base, suggestion, where: str) -> Result:
    answer = record.get("answer")
    action: Action | None = None
    after = base
    if answer is None or answer == "ignore":
        action = "skip"
    elif answer == "reject":
        action = "keep"
    elif answer == "accept":
        spans = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in record.get("spans", [])]
        after = token_spans(tokens, spans, where=where)
    else:
        raise NerqaError(f"{where}: answer {answer!r} is not accept, reject or ignore")
    name = f"prodigy:{record['_annotator_id']}" if record.get("_annotator_id") else None
    identity = record.get("_task_hash", meta["issue_id"])
    stamp = record.get("_timestamp") or _digest([answer, record.get("spans")])
    return action, after, name, f"prodigy:task={identity}:{record.get('_annotator_id')}:{stamp}"


def _doccano_result(record: dict, meta: dict, tokens, base, suggestion, where: str) -> Result:
    labels = record.get("label", record.get("entities"))
    spans = []
    for item in labels or []:
        if isinstance(item, dict):
            spans.append((int(item["start_offset"]), int(item["end_offset"]), str(item["label"])))
        else:
            spans.append((int(item[0]), int(item[1]), str(item[2])))
    after = token_spans(tokens, spans, where=where)
    confirmed = any(record.get(key) is True for key in _CONFIRMED)
    origin = f"doccano:example={record.get('id', meta['issue_id'])}:{_digest([labels, confirmed])}"
    if labels is None or (after == suggestion and not confirmed):
        return "skip", base, None, origin  # left as exported: nobody looked at it
    return None, after, None, origin


def import_decision_log(session: ReviewSession, path: Path) -> list[Decision]:
    """Decisions from another copy's `nerqa decisions export` file (e.g. a second reviewer's),
    checked against this audit: every issue id must be this audit's (or a propagated `pr-` or
    guideline question's `qu-` id), its sentence must be here with the same labels, and every span inside it. Undo rows
    are dropped together with the rows they retract. Not recorded: the caller records them."""
    rows = []
    for where, record in read_records(path):
        try:
            before = tuple(Span(int(a), int(b), str(c)) for a, b, c in record["before"])
            after = tuple(Span(int(a), int(b), str(c)) for a, b, c in record["after"])
            rows.append((where, record, before, after))
        except (KeyError, TypeError, ValueError) as error:
            raise NerqaError(f"{where}: not a nerqa decision record ({error})") from None
    if not rows:
        raise NerqaError(f"{path}: holds no decision")
    undone = {seq for _, r, _, _ in rows if r.get("action") == "undo" for seq in r.get("undoes", [])}
    issues = {i.id: i for i in session.result.issues}
    out = []
    for where, record, before, after in rows:
        if record.get("action") == "undo" or record.get("seq") in undone:
            continue
        issue_id = str(record.get("issue_id"))
        if issue_id not in issues and not issue_id.startswith(("pr-", "qu-")):
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
        out.append(
            Decision(
                issue_id=issue_id,
                sentence_key=session.keys[index],
                sentence_hash=session.replay.hash(index),
                action=record["action"],
                before=ordered(before),
                after=ordered(after),
                reviewer=str(record.get("reviewer") or session.reviewer),
                source=str(record.get("source") or "review"),
                doc_id=session.result.corpus.sentence_doc_ids[index],
                index=index,
                batch=record.get("batch"),
                supersedes=tuple(str(u) for u in record.get("supersedes") or ()),
                # The exported decision's own id: imported twice, it is recorded once.
                uid=str(
                    record.get("uid")
                    or "log-"
                    + _digest(
                        {k: record.get(k) for k in ("issue_id", "action", "reviewer", "decided_at", "after", "seq")}
                    )
                ),
            )
        )
    return out
