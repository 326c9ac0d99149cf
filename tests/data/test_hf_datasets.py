"""Hugging Face datasets in and out (`--format hf`): save_to_disk folders, parquet, ClassLabel tags."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
from review_helpers import review_audit, write_review_project
from samples import TOY, with_doc_ids
from typer.testing import CliRunner

from nerqa.data.formats import ReadOptions, read_corpus, read_splits, write_corpus
from nerqa_cli.main import app

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _dataset_dict() -> datasets.DatasetDict:
    """As the fine-tuning walkthroughs hold NER data: tokens, ClassLabel ner_tags, other columns."""
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "pos_tags": datasets.Sequence(datasets.ClassLabel(names=["NN", "VB", "DT", "IN"])),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS)),
            "source": datasets.Value("string"),
        }
    )
    rows = {
        "id": ["0", "1", "2"],
        "tokens": [["John", "Smith", "runs"], ["in", "Paris", "today"], ["the", "Paris", "office"]],
        "pos_tags": [[0, 0, 1], [3, 0, 0], [2, 0, 0]],
        "ner_tags": [[1, 2, 0], [0, 3, 0], [0, 0, 0]],
        "source": ["wire", "wire", None],
    }
    train = datasets.Dataset.from_dict(rows, features=features)
    return datasets.DatasetDict({"train": train, "validation": train.select([1, 2])})


def _invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def test_a_dataset_dict_round_trips_unchanged(tmp_path: Path):
    original = _dataset_dict()
    original.save_to_disk(tmp_path / "in")
    splits = read_splits(tmp_path / "in")
    assert list(splits) == ["train", "validation"]
    assert splits["train"].sentences[0].tags == ("B-PER", "I-PER", "O")
    result = _invoke("convert", tmp_path / "in", tmp_path / "out", "--to", "hf")
    assert result.exit_code == 0, result.output + result.stderr
    back = datasets.load_from_disk(tmp_path / "out")
    for split in original:
        assert back[split].features == original[split].features  # ClassLabel names and order kept
        assert back[split].to_list() == original[split].to_list()  # every column, every row


def test_split_and_integer_tags_without_names(tmp_path: Path):
    _dataset_dict().save_to_disk(tmp_path / "dd")
    assert len(read_corpus(tmp_path / "dd", options=ReadOptions(split="validation"))) == 2
    result = _invoke("stats", tmp_path / "dd", "--split", "test")
    assert result.exit_code == 1 and "no split 'test'; the splits are train, validation" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    plain = datasets.Dataset.from_dict({"tokens": [["John", "runs"]], "ner_tags": [[1, 0]]})
    plain.to_parquet(tmp_path / "plain.parquet")
    result = _invoke("stats", tmp_path / "plain.parquet")
    assert result.exit_code == 1 and "ner_tags holds integers without names: pass --tags" in result.stderr
    result = _invoke("convert", tmp_path / "plain.parquet", tmp_path / "plain.tsv", "--tags", ",".join(TAGS))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "plain.tsv").read_text().split() == ["John", "B-PER", "runs", "O"]


def test_a_parquet_file_audits(tiny_model: Path, tmp_path: Path):
    write_corpus(with_doc_ids(TOY), tmp_path / "toy.parquet")
    assert datasets.Dataset.from_parquet(str(tmp_path / "toy.parquet")).features["ner_tags"].feature.names == [
        "O",
        "B-Disease",
        "I-Disease",
    ]
    result = _invoke(
        "audit", tmp_path / "toy.parquet", "--model", tiny_model, "-k", "3", "--mode", "fast", "--out", tmp_path / "a"
    )
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["corpus"]["sentences"] == len(TOY)


def test_apply_writes_a_dataset_that_loads_and_trains(tmp_path: Path):
    from nerqa.review.decisions import DecisionStore
    from nerqa.review.session import ReviewSession

    project = write_review_project(tmp_path)
    audit = review_audit()
    issue = audit.issues[0]
    ReviewSession(audit, DecisionStore.open(project / "audit"), "x").decide(issue, "accept")
    result = _invoke("apply", project / "corpus.jsonl", project / "audit", "--out", tmp_path / "fixed", "--to", "hf")
    assert result.exit_code == 0, result.output + result.stderr
    fixed = datasets.load_from_disk(tmp_path / "fixed")
    assert isinstance(fixed.features["ner_tags"].feature, datasets.ClassLabel)
    assert fixed.num_rows == len(audit.corpus)
    names = fixed.features["ner_tags"].feature.names
    row = fixed[issue.index]
    assert [names[t] for t in row["ner_tags"]] != list(audit.corpus.sentences[issue.index].tags)  # the fix is in


def test_an_arrow_file_reads(tmp_path: Path):
    _dataset_dict()["train"].save_to_disk(tmp_path / "one")
    arrow = next((tmp_path / "one").glob("*.arrow"))
    corpus = read_corpus(arrow)
    assert [s.tokens for s in corpus.sentences][1] == ("in", "Paris", "today")


def test_the_trainer_trains_on_a_written_dataset(tiny_model: Path, tmp_path: Path):
    """The fine-tuning walkthroughs' recipe, unchanged, on nerqa's output: labels from the
    ClassLabel names, tokenized with word ids, one epoch of the transformers Trainer."""
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    write_corpus(with_doc_ids(TOY), tmp_path / "toy", "hf")
    data = datasets.load_from_disk(tmp_path / "toy")
    names = data.features["ner_tags"].feature.names
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)

    def align(batch):
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True)
        encoded["labels"] = [
            [-100 if w is None else tags[w] for w in encoded.word_ids(i)] for i, tags in enumerate(batch["ner_tags"])
        ]
        return encoded

    tokenized = data.map(align, batched=True, remove_columns=data.column_names)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model, num_labels=len(names))
    args = TrainingArguments(str(tmp_path / "run"), num_train_epochs=1, per_device_train_batch_size=8, report_to=[])
    trainer = Trainer(
        model=model, args=args, train_dataset=tokenized, data_collator=DataCollatorForTokenClassification(tokenizer)
    )
    result = trainer.train()
    assert result.global_step == (len(TOY) + 7) // 8 and result.training_loss > 0


def _hub_cache(cache: Path, repo_id: str) -> None:
    """Put `_dataset_dict()` into a datasets cache as `datasets.load_dataset(repo_id)` leaves a
    hub dataset of parquet files: `OWNER___NAME/default/0.0.0/HASH/NAME-SPLIT.arrow`."""
    import shutil

    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.parquet.parquet import Parquet

    source = cache.parent / "source"
    source.mkdir(parents=True)
    files = {}
    for split, dataset in _dataset_dict().items():
        files[split] = [str(source / f"{split}.parquet")]
        dataset.to_parquet(files[split][0])
    name = repo_id.split("/")[-1]
    builder = Parquet(
        cache_dir=str(cache / "build"),
        dataset_name=name,
        hash="0123abcd",
        data_files=DataFilesDict.from_local_or_remote(files),
        features=_dataset_dict()["train"].features,
    )
    builder.download_and_prepare()
    built = Path(builder.cache_dir)
    target = cache / repo_id.replace("/", "___") / "default" / "0.0.0" / "0123abcd"
    target.parent.mkdir(parents=True)
    shutil.copytree(built, target)
    info = json.loads((target / "dataset_info.json").read_text())
    (target / "dataset_info.json").write_text(json.dumps({**info, "config_name": "default"}))
    shutil.rmtree(cache / "build")


def test_a_dataset_reads_from_the_local_cache_by_name_and_never_from_the_network(tmp_path: Path, monkeypatch):
    import socket

    cache = tmp_path / "cache"
    _hub_cache(cache, "someone/toy_ner")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)

    def no_network(*args, **kwargs):
        raise AssertionError("nerqa went to the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    splits = read_splits("hf:someone/toy_ner")
    assert list(splits) == ["train", "validation"]
    assert [s.tags for s in splits["train"].sentences] == [
        ("B-PER", "I-PER", "O"),
        ("O", "B-LOC", "O"),
        ("O", "O", "O"),
    ]
    assert read_corpus("hf:someone/toy_ner", options=ReadOptions(split="validation")).n_tokens == 6
    result = _invoke("stats", "hf:someone/toy_ner", "--split", "train")
    assert result.exit_code == 0, result.output + result.stderr
    missing = _invoke("stats", "hf:someone/not_here", "--split", "train")
    assert missing.exit_code == 1
    assert "hf:someone/not_here: not in the local datasets cache" in missing.stderr
    assert "never downloads" in missing.stderr and "Traceback" not in missing.output


def test_a_dataset_dicts_splits_audit_together_and_apply_writes_each_back(tiny_model: Path, tmp_path: Path):
    from nerqa.data.corpus import Corpus
    from nerqa.data.formats import write_splits

    toy = with_doc_ids(TOY)
    half = len(toy.documents) // 2
    splits = {"train": Corpus(toy.documents[:half]), "validation": Corpus(toy.documents[half:])}
    assert all(len(c) for c in splits.values())
    write_splits(splits, tmp_path / "dd", "hf")
    out = tmp_path / "a"
    result = _invoke("audit", tmp_path / "dd", "--model", tiny_model, "-k", "3", "--mode", "fast", "--out", out)
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [(p["name"], p["sentences"]) for p in summary["parts"]] == [(n, len(c)) for n, c in splits.items()]
    assert _invoke("accept", tmp_path / "dd", out, "--all").exit_code == 0
    result = _invoke("apply", tmp_path / "dd", out, "--out", tmp_path / "fixed")
    assert result.exit_code == 0, result.output + result.stderr
    before, after = datasets.load_from_disk(tmp_path / "dd"), datasets.load_from_disk(tmp_path / "fixed")
    assert list(after) == ["train", "validation"]
    for name in after:
        assert after[name]["tokens"] == before[name]["tokens"]
        assert after[name].features == before[name].features
