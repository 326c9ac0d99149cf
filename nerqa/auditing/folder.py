"""The audit folder: `AuditResult` written to disk and read back.

An audit's data and its folder: `AuditResult`, written to and read back from disk.

The folder is a stable contract that other tools read (see the README):
- `sentences.jsonl`: `{"index", "doc_id", "score", "n_issues", "cleanlab_score"}` per sentence;
- `issues.jsonl` (and `issues.csv`): one `Issue` per line, most suspicious first;
- `questions.jsonl`: one guideline `Question` per line (`nerqa.auditing.neighbours`), most
  telling first;
- `pred_probs.npz`: the word-level probabilities (`nerqa.data.probs.save_probs`);
- `summary.json`: counts, cross-validated metrics, settings, timings, and `corpus.fingerprint`,
  which `load_audit` checks against the corpus it is used with.
`report.html` is written beside them by `nerqa.auditing.write_outputs`; this module knows
nothing of the report, so both the report and the audit can import it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.auditing.questions import Question
from nerqa.data.corpus import Corpus
from nerqa.data.probs import load_probs, save_probs
from nerqa.errors import AuditFolderError
from nerqa.files import atomic_write_text

SENTENCES_FILE = "sentences.jsonl"
ISSUES_FILE = "issues.jsonl"
ISSUES_CSV = "issues.csv"
QUESTIONS_FILE = "questions.jsonl"
PROBS_FILE = "pred_probs.npz"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
LOG_FILE = "audit.log"
CACHE_FOLDER = "cache"
DECISIONS_FILE = "decisions.sqlite"  # written by the review (`nerqa.review.decisions`)
# Everything an audit folder holds that nerqa writes there: the contract, the log, the fold
# cache and the review's decision log (`nerqa.review.decisions.DECISIONS_FILE`, with its
# SQLite companions). A re-audit writes into a folder holding nothing else.
AUDIT_FOLDER_NAMES = (
    SENTENCES_FILE,
    ISSUES_FILE,
    ISSUES_CSV,
    QUESTIONS_FILE,
    PROBS_FILE,
    SUMMARY_FILE,
    REPORT_FILE,
    LOG_FILE,
    CACHE_FOLDER,
    DECISIONS_FILE,
)


@dataclass
class AuditResult:
    """Everything an audit found.

    Attributes:
        corpus: the audited corpus.
        pred_probs: per sentence, `(n_words, n_tags)` out-of-sample probabilities.
        tags: the column order of `pred_probs`.
        sentence_scores: `(n_sentences,)` label-quality scores in [0, 1], lower = more suspicious.
        issues: most suspicious first, each with a stable id.
        cleanlab_scores: `(n_sentences,)` cleanlab's own sentence scores.
        summary: JSON-able counts, metrics, settings and timings.
        questions: guideline questions, most telling first (`nerqa.auditing.neighbours`).
    """

    corpus: Corpus
    pred_probs: list[np.ndarray]
    tags: tuple[str, ...]
    sentence_scores: np.ndarray
    issues: list[Issue]
    cleanlab_scores: np.ndarray
    summary: dict = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)

    def issue(self, issue_id: str) -> Issue:
        """The issue with this id (KeyError when there is none).

        Args:
            issue_id: a stable issue id (`nerqa.auditing.issues.issue_id`).
        """
        for issue in self.issues:
            if issue.id == issue_id:
                return issue
        raise KeyError(issue_id)


def audit_files(result: AuditResult) -> dict[str, str]:
    """The text files of the contract, by name (built in memory, before anything is written)."""
    counts = Counter(i.index for i in result.issues)
    sentences = "".join(
        json.dumps(
            {"index": i, "doc_id": doc_id, "score": float(s), "n_issues": counts.get(i, 0), "cleanlab_score": float(c)},
            ensure_ascii=False,
        )
        + "\n"
        for i, (doc_id, s, c) in enumerate(
            zip(result.corpus.sentence_doc_ids, result.sentence_scores, result.cleanlab_scores)
        )
    )
    issues = "".join(json.dumps(issue.to_dict(), ensure_ascii=False) + "\n" for issue in result.issues)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=[f.name for f in fields(Issue)])
    writer.writeheader()
    for issue in result.issues:
        similar = "; ".join(f"{text} (s. {index}, {label})" for index, text, label, _ in issue.similar)
        writer.writerow({**issue.to_dict(), "evidence": "+".join(issue.evidence), "similar": similar})
    questions = "".join(json.dumps(q.to_dict(), ensure_ascii=False) + "\n" for q in result.questions)
    return {
        SENTENCES_FILE: sentences,
        ISSUES_FILE: issues,
        ISSUES_CSV: table.getvalue(),
        QUESTIONS_FILE: questions,
        SUMMARY_FILE: json.dumps(result.summary, indent=2, default=str, ensure_ascii=False) + "\n",
    }


def check_same_corpus(folder: str | Path, corpus: Corpus) -> None:
    """Raise `AuditFolderError` when `folder` holds review decisions made on the audit of another
    corpus (another `Corpus.fingerprint`): an audit written there would have them replayed onto
    this one. A folder without decisions, or with decisions on this very corpus, passes."""
    folder = Path(folder)
    if not (folder / DECISIONS_FILE).exists():
        return
    try:
        recorded = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))["corpus"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = {}
    if recorded.get("fingerprint") == corpus.fingerprint():
        return
    name = f"{recorded.get('name')!r}" if recorded.get("name") else "another corpus"
    raise AuditFolderError(
        f"{folder}: its review decisions ({DECISIONS_FILE}) were made on the audit of {name}, not this corpus; "
        f"audit into another folder, or move {folder / DECISIONS_FILE} away to start afresh"
    )


def write_audit(result: AuditResult, folder: str | Path, *, extra: dict[str, str] | None = None) -> list[Path]:
    """Write the contract's files (and `extra` text files, by name) into `folder`, each atomically.

    Every file's content is built before the first is written. Returns the paths written.
    """
    folder = Path(folder)
    texts = {**audit_files(result), **(extra or {})}
    written = []
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
        written.append(folder / name)
    save_probs(folder / PROBS_FILE, result.pred_probs, result.tags)
    return [*written, folder / PROBS_FILE]


def _jsonl(path: Path) -> list[dict]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise AuditFolderError(f"{path}: no such file; is {path.parent} an audit folder?") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AuditFolderError(f"{path}, line {number}: not JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise AuditFolderError(f"{path}, line {number}: expected a JSON object")
        records.append(record)
    return records


def load_summary(folder: str | Path) -> dict:
    """An audit folder's `summary.json`."""
    path = Path(folder) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditFolderError(f"{path}: no such file; is {path.parent} an audit folder?") from None
    except json.JSONDecodeError as error:
        raise AuditFolderError(f"{path}, line {error.lineno}: not JSON: {error.msg}") from None


def check_audit_corpus(folder: str | Path, corpus: Corpus, *, hint: str = "; audit this corpus first") -> dict:
    """The folder's summary, after checking that it is an audit of `corpus` (same fingerprint).
    The error ends with `hint`."""
    summary = load_summary(folder)
    expected = summary.get("corpus", {}).get("fingerprint")
    if expected is None:
        raise AuditFolderError(
            f"{Path(folder) / SUMMARY_FILE}: no corpus fingerprint; re-run the audit with this version of nerqa"
        )
    if expected != corpus.fingerprint():
        name = summary.get("corpus", {}).get("name") or "another corpus"
        raise AuditFolderError(
            f"{folder}: this audit is of {name} (fingerprint {expected}), not of the corpus given (fingerprint "
            f"{corpus.fingerprint()}): its tokens, tags or documents differ{hint}"
        )
    return summary


def load_audit(folder: str | Path, corpus: Corpus) -> AuditResult:
    """Read an audit folder back into the `AuditResult` that `audit()` returned.

    Raises `AuditFolderError` (one line naming the file) when a file is missing or damaged, or
    when the folder is an audit of another corpus.

    Args:
        folder: the audit folder.
        corpus: the corpus it audited (its fingerprint is checked).
    """
    folder = Path(folder)
    summary = check_audit_corpus(folder, corpus)
    sentences = _jsonl(folder / SENTENCES_FILE)
    if len(sentences) != len(corpus):
        raise AuditFolderError(
            f"{folder / SENTENCES_FILE}: {len(sentences)} sentences, but the corpus has {len(corpus)}"
        )
    issues = []
    for number, record in enumerate(_jsonl(folder / ISSUES_FILE), start=1):
        try:
            issue = Issue.from_dict(record)
        except TypeError as error:
            raise AuditFolderError(f"{folder / ISSUES_FILE}, line {number}: not an issue: {error}") from None
        if not 0 <= issue.index < len(corpus) or not 0 <= issue.start < issue.end <= len(corpus.sentences[issue.index]):
            raise AuditFolderError(
                f"{folder / ISSUES_FILE}, line {number}: span {issue.start}-{issue.end} of sentence "
                f"{issue.index} is outside the corpus"
            )
        issues.append(issue)
    pred_probs, tags = load_probs(folder / PROBS_FILE)
    if [len(p) for p in pred_probs] != [len(s) for s in corpus.sentences]:
        raise AuditFolderError(f"{folder / PROBS_FILE}: the probabilities do not match the corpus's sentences")
    try:
        scores = np.array([float(r["score"]) for r in sentences])
        cleanlab = np.array([float(r["cleanlab_score"]) for r in sentences])
    except (KeyError, TypeError, ValueError) as error:
        raise AuditFolderError(f"{folder / SENTENCES_FILE}: a line lacks a numeric {error}") from None
    questions = []
    if (folder / QUESTIONS_FILE).is_file():  # audits before issue 29 have none
        for number, record in enumerate(_jsonl(folder / QUESTIONS_FILE), start=1):
            try:
                questions.append(Question.from_dict(record))
            except (KeyError, TypeError, ValueError) as error:
                raise AuditFolderError(f"{folder / QUESTIONS_FILE}, line {number}: not a question: {error}") from None
    return AuditResult(corpus, pred_probs, tags, scores, issues, cleanlab, summary, questions)


def load_issue_records(folder: str | Path) -> list[dict]:
    """An audit folder's `issues.jsonl` records, without the corpus (for comparing audits)."""
    return _jsonl(Path(folder) / ISSUES_FILE)
