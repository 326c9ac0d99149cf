"""Generate the demo corpus: synthetic abstracts in NCBI inline-tag format with planted errors.

    python demo/make_demo.py [--clean FILE]   # writes demo/abstracts.txt and demo/planted.json

Sentences come from templates filled with disease names (SpecificDisease: named disorders;
DiseaseClass: broad classes). A few labels are then corrupted on purpose; `planted.json`
lists them (document, the text, what was done) so an audit's findings can be checked.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SPECIFIC = [
    "Marfan syndrome",
    "cystic fibrosis",
    "Huntington disease",
    "phenylketonuria",
    "Duchenne muscular dystrophy",
    "hemochromatosis",
    "Tay-Sachs disease",
    "Gaucher disease",
    "Fabry disease",
    "Wilson disease",
    "retinoblastoma",
    "neurofibromatosis type 1",
    "sickle cell anemia",
    "beta thalassemia",
    "Fanconi anemia",
    "ataxia telangiectasia",
    "Lesch-Nyhan syndrome",
    "Prader-Willi syndrome",
    "fragile X syndrome",
    "familial hypercholesterolemia",
]
CLASSES = [
    "cancer",
    "tumours",
    "neurodegenerative disorder",
    "metabolic disease",
    "muscular dystrophy",
    "anemia",
    "connective tissue disorder",
    "cardiomyopathy",
    "immunodeficiency",
    "skeletal dysplasia",
]
GENES = [
    "FBN1",
    "CFTR",
    "HTT",
    "PAH",
    "DMD",
    "HFE",
    "HEXA",
    "GBA",
    "GLA",
    "ATP7B",
    "RB1",
    "NF1",
    "HBB",
    "FANCA",
    "ATM",
    "HPRT1",
    "LDLR",
]
TEMPLATES = [
    "Mutations in {gene} cause {S} .",
    "We studied {n} patients with {S} and {m} unaffected relatives .",
    "{S} is a rare {C} with autosomal recessive inheritance .",
    "The {gene} gene was sequenced in {n} families with {S} .",
    "Carriers of {gene} variants showed no signs of {C} .",
    "Patients with {S} had a higher risk of {C} than controls ( {p} % vs. {q} % ) .",
    "Screening for {S} is offered to newborns in {n} countries .",
    "Loss of {gene} function was found in {n} of {m} samples of {C} .",
    "No association between {gene} and {C} was seen ( ref . {p} ) .",
    "Early diagnosis of {S} improves the outcome of {C} .",
]


def fill(rng: random.Random, template: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Fill a template; returns the text and its (start, end, type) entities."""
    text, entities = "", []
    for piece in template.split(" "):
        value, label = piece, None
        if piece == "{S}":
            value, label = rng.choice(SPECIFIC), "SpecificDisease"
        elif piece == "{C}":
            value, label = rng.choice(CLASSES), "DiseaseClass"
        elif piece == "{gene}":
            value = rng.choice(GENES)
        elif piece in ("{n}", "{m}", "{p}", "{q}"):
            value = str(rng.randint(2, 90))
        start = len(text) + (1 if text else 0)
        text = f"{text} {value}" if text else value
        if label:
            entities.append((start, start + len(value), label))
    return text, entities


def _marked(documents: list) -> str:
    """The documents in NCBI's inline-tag form, one abstract a line."""
    lines = []
    for doc_id, sentences in documents:
        marked = []
        for text, ents in sentences:
            out, cursor = "", 0
            for start, end, label in sorted(ents):
                out += text[cursor:start] + f'<category="{label}">{text[start:end]}</category>'
                cursor = end
            marked.append(out + text[cursor:])
        lines.append(f"{doc_id}\t{marked[0]}\t{' '.join(marked[1:])}")
    return "\n".join(lines) + "\n"


def build() -> tuple[str, str, list[dict]]:
    """The demo corpus as shipped (with the planted errors), the same corpus without them, and
    the planted errors: document, sentence, the text of the span as planted, what was done
    (`error`), the label it carries (`given`, O for a missed span) and the fix (`fixed`: the
    true label, O for a ghost span; for a shift, `fixed_text` is the whole mention)."""
    rng = random.Random(7)
    documents = []
    for number in range(60):
        sentences = [fill(rng, rng.choice(TEMPLATES)) for _ in range(6)]
        documents.append((f"D{number + 1:03d}", sentences))
    clean = [(doc_id, [(text, list(ents)) for text, ents in sentences]) for doc_id, sentences in documents]
    planted = []
    # Corrupt a handful of labels, each in a different document.
    for doc_index, action in zip(
        rng.sample(range(len(documents)), 12), ["missed_span", "wrong_tag", "ghost_span", "span_shift"] * 3
    ):
        doc_id, sentences = documents[doc_index]
        candidates = [(i, j) for i, (_, ents) in enumerate(sentences) for j in range(len(ents))]
        i, j = rng.choice(candidates)
        text, ents = sentences[i]
        start, end, label = ents[j]
        record = {"doc_id": doc_id, "sentence": i}
        if action == "missed_span":
            del ents[j]
            record.update(given="O", fixed=label)
        elif action == "wrong_tag":
            other = "DiseaseClass" if label == "SpecificDisease" else "SpecificDisease"
            ents[j] = (start, end, other)
            record.update(given=other, fixed=label)
        elif action == "ghost_span":
            word_start = text.index(" ") + 1  # the sentence's second word
            ents.append((word_start, text.index(" ", word_start), "SpecificDisease"))
            start, end = word_start, text.index(" ", word_start)
            record.update(given="SpecificDisease", fixed="O")
        else:
            cut = text.rfind(" ", start, end)
            if cut <= start:
                continue
            ents[j] = (start, cut, label)  # drop the last word of the mention
            record.update(given=label, fixed=label, fixed_text=text[start:end])
            end = cut
        planted.append({**record, "text": text[start:end], "error": action})
        ents.sort()
    return _marked(documents), _marked(clean), planted


def main() -> None:
    """Write `abstracts.txt` and `planted.json` beside this file; with `--clean FILE`, also the
    corpus without the planted errors."""
    import argparse

    parser = argparse.ArgumentParser(description="Generate the demo corpus.")
    parser.add_argument("--clean", type=Path, help="also write the corpus without the planted errors here")
    args = parser.parse_args()
    noisy, clean, planted = build()
    folder = Path(__file__).parent
    (folder / "abstracts.txt").write_text(noisy, encoding="utf-8")
    (folder / "planted.json").write_text(json.dumps(planted, indent=1) + "\n", encoding="utf-8")
    if args.clean:
        args.clean.write_text(clean, encoding="utf-8")


if __name__ == "__main__":
    main()
