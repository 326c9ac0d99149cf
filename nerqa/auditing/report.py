"""The self-contained HTML report of an audit.

The self-contained HTML report: charts, filters, and each issue's sentence rendered with
spaCy's displaCy, given labels beside the suggestion.

Everything from the corpus is escaped. displaCy escapes span text but not labels or titles,
so labels are escaped here before displaCy sees them.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from spacy import displacy

from nerqa.auditing.issues import describe_change
from nerqa.auditing.noise import describe_noise
from nerqa.auditing.parts import part_names
from nerqa.data.tags import OUTSIDE

if TYPE_CHECKING:
    from nerqa.auditing.folder import AuditResult
    from nerqa.auditing.issues import Issue
    from nerqa.data.corpus import Sentence

MAX_ISSUES = 500
# Light, mutually distinct backgrounds for entity types (dark text stays readable on each);
# displaCy would draw every label it does not know in one grey.
PALETTE = (
    "#a6cee3",
    "#fdbf6f",
    "#b2df8a",
    "#fb9a99",
    "#cab2d6",
    "#ffff99",
    "#8dd3c7",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
)


def entity_colors(types: Sequence[str]) -> dict[str, str]:
    """A background colour per entity type (sorted, so one corpus gets the same colours in every
    report): the palette's 12, then light hues a golden angle apart."""
    return {
        html.escape(t): PALETTE[i] if i < len(PALETTE) else f"hsl({i * 137.508 % 360:.0f}, 70%, 82%)"
        for i, t in enumerate(sorted(set(types)))
    }


def _sentence_html(
    tokens: Sequence[str], spans: Sequence[tuple[int, int, str]], colors: dict[str, str] | None = None
) -> str:
    """displaCy markup of a sentence (tokens joined by spaces) with token-offset `spans`."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    text = " ".join(tokens)
    ents = [
        {"start": starts[s], "end": starts[e - 1] + len(tokens[e - 1]), "label": html.escape(label)}
        for s, e, label in sorted(spans)
    ]
    return displacy.render(
        {"text": text, "ents": ents, "title": None},
        style="ent",
        manual=True,
        page=False,
        jupyter=False,
        options={"colors": colors or {}},
    )


def _bars(title: str, counts: dict[str, float], *, fmt: str = "{:,.0f}", width: int = 420) -> str:
    """A horizontal bar chart as inline SVG."""
    items = list(counts.items())
    peak = max((v for _, v in items), default=0) or 1
    height = 22 * len(items) + 30
    rows = [f'<text x="0" y="14" class="t">{html.escape(title)}</text>']
    for n, (label, value) in enumerate(items):
        y = 24 + 22 * n
        length = (width - 190) * value / peak
        rows.append(
            f'<text x="0" y="{y + 13}">{html.escape(str(label))[:22]}</text>'
            f'<rect x="150" y="{y}" width="{length:.1f}" height="16" fill="#4c78a8"/>'
            f'<text x="{155 + length:.1f}" y="{y + 13}">{html.escape(fmt.format(value))}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(rows)}</svg>'


def _histogram(title: str, values: np.ndarray, bins: int = 20) -> str:
    """An SVG histogram of values in [0, 1]; bar heights on a log scale, because most
    sentences score near 1 and the few suspicious ones would not show on a linear one."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    heights = 110 * np.log1p(counts) / (np.log1p(counts.max()) or 1)
    bars = "".join(
        f'<rect x="{10 + 20 * i}" y="{130 - h:.1f}" width="18" height="{h:.1f}" '
        f'fill="#f58518"><title>{edges[i]:.2f}-{edges[i + 1]:.2f}: {c}</title></rect>'
        for i, (c, h) in enumerate(zip(counts, heights))
    )
    return (
        f'<svg width="420" height="160" role="img"><text x="0" y="14" class="t">{html.escape(title)}</text>{bars}'
        f'<text x="10" y="150">0</text><text x="200" y="150">0.5</text><text x="395" y="150">1</text></svg>'
    )


def render_html(result: AuditResult) -> str:
    """The report page for an audit result (one string; no external resources)."""
    corpus, summary = result.corpus, result.summary
    issues = result.issues[:MAX_ISSUES]
    cv = summary.get("cv_metrics", {})
    f1 = {name: scores["f1"] for name, scores in cv.get("per_type", {}).items()}
    by_type = Counter(i.type for i in result.issues)
    by_class = Counter(i.given if i.given != OUTSIDE else i.suggested for i in result.issues)
    charts = "".join(
        [
            _histogram("Sentence scores (lower = more suspicious; log scale)", np.asarray(result.sentence_scores)),
            _bars("Issues per type", dict(by_type.most_common())),
            _bars("Issues per class", dict(by_class.most_common())),
            _bars("Cross-validated F1 per class", f1, fmt="{:.3f}"),
        ]
    )
    colors = entity_colors([*corpus.entity_types, *(i.suggested for i in issues if i.suggested != OUTSIDE)])
    files = part_names(summary, len(corpus))
    rows = [_issue_card(issue, corpus.sentences[issue.index], colors, files[issue.index]) for issue in issues]

    def options(values) -> str:
        return "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in sorted(values))

    counts = summary.get("corpus", {})
    head = (
        f"{counts.get('sentences', 0):,} sentences, {counts.get('tokens', 0):,} tokens, "
        f"{len(result.issues):,} issues (showing the top {len(issues):,}); CV micro F1 "
        f"{cv.get('micro', {}).get('f1', 0):.3f}"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nerqa audit</title>
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>
body{{font-family:sans-serif;margin:2em;max-width:1200px}}
svg{{margin:0 1em 1em 0;font-size:12px}} .t{{font-weight:bold}}
.issue{{border-top:1px solid #ddd;padding:.6em 0}} .tag{{background:#eee;border-radius:3px;padding:0 .4em}}
.reason{{color:#555}} .pair{{display:grid;grid-template-columns:1fr 1fr;gap:1em}} .pair i{{color:#888}}
</style></head><body>
<h1>nerqa audit of {html.escape(str(counts.get("name") or "a corpus"))}</h1><p>{html.escape(head)}</p>
<p id="settings">{html.escape(_settings_line(summary))}</p>{_noise(summary)}{_parts_table(summary)}
{_next_step(summary)}
<div>{charts}</div>
{LEGEND}
{_questions(result, colors)}
<p>Type <select id="ft"><option value="">all</option>{options(by_type)}</select>
Class <select id="fc"><option value="">all</option>{options(by_class)}</select>{_file_filter(summary)}
<span id="shown"></span></p>
<div id="issues">{"".join(rows)}</div>
<script>
function apply(){{var t=document.getElementById('ft').value,c=document.getElementById('fc').value,n=0;
var fp=document.getElementById('fp'),p=fp?fp.value:'';
document.querySelectorAll('#issues .issue').forEach(function(e){{
var ok=(!t||e.dataset.type===t)&&(!c||e.dataset.class===c)&&(!p||e.dataset.part===p);
e.style.display=ok?'':'none';if(ok)n++;}});
document.getElementById('shown').textContent=n+' shown';}}
document.getElementById('ft').onchange=apply;document.getElementById('fc').onchange=apply;
if(document.getElementById('fp'))document.getElementById('fp').onchange=apply;apply();
</script>
<script type="application/json" id="summary">{_script_json(summary)}</script>
</body></html>
"""


# What each figure and word of an issue card means.
LEGEND = """<details id="legend"><summary>How to read an issue</summary><dl>
<dt>type</dt><dd><b>wrong_tag</b>: the span's type is doubted; <b>missed_span</b>: words the model reads as an
entity are not labeled; <b>ghost_span</b>: a labeled span the model sees no entity in; <b>span_shift</b>: the
model's span has other bounds; <b>inconsistent</b>: the same words are labeled differently elsewhere;
<b>sparse</b>: an entity of a rare type, or a one-off form the model doubts.</dd>
<dt>score</dt><dd>0 to 1, lower = more likely a label error: the cross-validated model's probability of the
given label, weighed against how the same words are labeled elsewhere in the corpus and, where the folds kept
their training dynamics, against how well the model fit the label while training on it. Issues are listed in
this order.</dd>
<dt>confidence</dt><dd>the model's probability, 0 to 1, of the reading the suggestion would give the words it
touches: <code>nerqa accept --min-confidence</code> keeps to the suggestions above a value.</dd>
<dt>margin</dt><dd>(issues.jsonl) how well the model fit the given label while it was trained on it, 0 to 1:
under 0.5 the model kept reading another type higher.</dd>
<dt>evidence</dt><dd>(issues.jsonl) every check that flagged the span, the one whose suggestion is shown
first: a span type (the cross-validated model), <code>neighbours</code> (similar mentions carry another type),
<code>inconsistent</code>, <code>sparse</code>.</dd>
<dt>agree, elsewhere</dt><dd>(issues.jsonl) of the other occurrences of the words (<i>elsewhere</i>), how many
read as here (<i>agree</i>).</dd>
</dl></details>"""


def _issue_card(issue: Issue, sentence: Sentence, colors: dict[str, str], file: str | None = None) -> str:
    """One issue as the report shows it: its head (id, type, score, place, change, confidence,
    reason) and the sentence as given beside the sentence as the suggestion would leave it.
    `file`: the file of an audit of several that holds the sentence."""
    tokens = sentence.tokens
    given = [(s.start, s.end, s.label) for s in sentence.spans]
    suggested = (
        [g for g in given if g[1] <= issue.start or g[0] >= issue.end]
        if issue.type in ("wrong_tag", "ghost_span", "span_shift", "inconsistent")
        else list(given)
    )
    if issue.suggested != OUTSIDE:
        start = issue.suggested_start if issue.suggested_start is not None else issue.start
        end = issue.suggested_end if issue.suggested_end is not None else issue.end
        suggested = [g for g in suggested if g[1] <= start or g[0] >= end] + [(start, end, issue.suggested)]
    klass = issue.given if issue.given != OUTSIDE else issue.suggested
    before, after = describe_change(issue, tokens)
    where = "" if file is None else f' data-part="{html.escape(file)}"'
    return (
        f'<div class="issue" data-type="{html.escape(issue.type)}" data-class="{html.escape(klass)}"{where}>'
        f'<div class="head"><b>{html.escape(issue.id)}</b> <span class="tag">{html.escape(issue.type)}</span> '
        f"score {issue.score:.3f} &middot; {'' if file is None else html.escape(file) + ', '}"
        f"sentence {issue.index}{_document(issue.doc_id)} &middot; "
        f"<code>{html.escape(issue.text)}</code>: {html.escape(before)} &rarr; {html.escape(after)}"
        f"{_confidence(issue)}"
        f'<div class="reason">{html.escape(issue.reason)}</div></div>'
        f'<div class="pair"><div><i>given</i>{_sentence_html(tokens, given, colors)}</div>'
        f"<div><i>suggested</i>{_sentence_html(tokens, suggested, colors)}</div></div></div>"
    )


def _settings_line(summary: dict) -> str:
    """When and how the audit ran, in one line."""
    settings = summary.get("settings", {})
    parts = [f"audited {summary['created']}" if summary.get("created") else ""]
    if settings.get("mode") == "model":
        parts.append("with a trained model (not cross-validated)")
    elif settings:
        parts.append(f"{settings.get('k')} folds, mode {settings.get('mode')}, level {settings.get('level')}")
        model = settings.get("model") if isinstance(settings.get("model"), dict) else {}
        trainer = settings.get("trainer") if isinstance(settings.get("trainer"), dict) else {}
        parts.append(f"model {model.get('model') or 'the bundled MiniLM'}, {trainer.get('epochs')} epochs per fold")
    return "; ".join(p for p in parts if p)


def _next_step(summary: dict) -> str:
    """The command that reviews the issues, with this audit's corpus where the summary names it."""
    corpus = summary.get("corpus", {}).get("path") or "CORPUS"
    return (
        f'<p id="next"><b>Next:</b> review these issues with <code>nerqa relabel {html.escape(str(corpus))} '
        "AUDIT_FOLDER</code> (the folder this report is in), or accept suggestions in bulk with "
        f"<code>nerqa accept {html.escape(str(corpus))} AUDIT_FOLDER --dry-run</code>.</p>"
    )


def _questions(result: AuditResult, colors: dict[str, str], shown: int = 20) -> str:
    """The top `shown` guideline questions: each group and the mentions it reads like, with
    example sentences (the mention marked with its type)."""
    if not result.questions:
        return ""
    sentences = result.corpus.sentences
    blocks = []
    for question in result.questions[:shown]:
        sides = []
        for cluster, label, what in zip(
            question.clusters, (question.label, question.suggested), ("this group", "reads like")
        ):
            examples = "".join(
                f"<div>s. {index}: {_sentence_html(sentences[index].tokens, [(start, end, label)], colors)}</div>"
                for index, start, end, _ in cluster.examples
            )
            sides.append(f"<div><i>{what}: {cluster.size} {html.escape(label)} mentions</i>{examples}</div>")
        blocks.append(
            f'<div class="issue question"><div class="head"><b>{html.escape(question.id)}</b> '
            f"{html.escape(question.describe())}</div>"
            f'<div class="pair">{"".join(sides)}</div></div>'
        )
    return (
        f'<h2 id="questions">Guideline questions ({len(result.questions):,}; questions.jsonl)</h2>'
        "<p>Groups of mentions whose contexts read like another type's: not errors under the current guideline, "
        "but one decision each for the team (<code>nerqa relabel</code>, key g).</p>" + "".join(blocks)
    )


def _file_filter(summary: dict) -> str:
    """The file filter and a line per file, for an audit of several files (nothing for one)."""
    parts = summary.get("parts") or []
    if not parts:
        return ""
    options = "".join(f'<option value="{html.escape(p["name"])}">{html.escape(p["name"])}</option>' for p in parts)
    return f' File <select id="fp"><option value="">all</option>{options}</select>'


def _parts_table(summary: dict) -> str:
    """Per file: sentences, issues, sentences with an issue and CV F1 (an audit of several files)."""
    parts = summary.get("parts") or []
    if not parts:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(p['name'])}</td><td>{p['sentences']:,}</td><td>{p['issues']['total']:,}</td>"
        f"<td>{p['sentences_with_issues']:,}</td><td>{_f1(p['cv_f1'])}</td></tr>"
        for p in parts
    )
    return (
        '<table id="parts"><tr><th>file</th><th>sentences</th><th>issues</th><th>sentences with an issue</th>'
        f"<th>CV F1</th></tr>{rows}</table>"
    )


def _f1(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _noise(summary: dict) -> str:
    """The estimated label noise (`nerqa.auditing.noise`), where the summary holds it."""
    if "noise" not in summary:
        return ""
    return f'<p id="noise">{html.escape(describe_noise(summary["noise"]))}</p>'


def _script_json(data: dict) -> str:
    """JSON for a `<script type="application/json">` element: its text is not HTML-unescaped,
    so it is written as is, with every `<` escaped (no `</script>` or `<!--` can end it)."""
    return json.dumps(data, default=str, ensure_ascii=False).replace("<", "\\u003c")


def _confidence(issue: Issue) -> str:
    """The suggestion's model probability, where the issue has one."""
    return f" (confidence {issue.confidence:.0%})" if issue.confidence is not None else ""


def _document(doc_id: str | None) -> str:
    """` · document ID`, or nothing for a corpus without document ids (CoNLL without ids)."""
    return "" if doc_id is None else f" &middot; document {html.escape(str(doc_id))}"
