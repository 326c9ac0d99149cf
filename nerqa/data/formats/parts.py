"""Writing an audit of several files back, each under its own name.

Writing an audit of several files back: each file under its own name, in one folder."""

from __future__ import annotations

from pathlib import Path

from nerqa.data.corpus import Corpus
from nerqa.data.formats import NEMO_FILE, ReadOptions, check_format_name, docbin, dump_text, hf, nemo_files
from nerqa.files import atomic_folder, write_files


def write_parts(
    corpora: dict[str, Corpus],
    folder: str | Path,
    formats: dict[str, str],
    *,
    options: ReadOptions = ReadOptions(),
    force: bool = False,
) -> list[Path]:
    """Write each corpus of an audit of several files into `folder` under its own name (the
    name of the file it was read from: `train.txt` stays `train.txt`), in its format
    (`formats[name]`), all or nothing (`nerqa.files.atomic_folder`; `force`: beside files nerqa
    did not write). Returns the paths written."""
    for name in corpora:
        check_format_name(formats[name])
    names: list[str] = []
    with atomic_folder(folder, force=force) as staging:
        for name, corpus in corpora.items():
            format, target = formats[name], staging / name
            if format == "hf":
                hf.write({corpus.name or "train": corpus}, target, single=True, force=force)
                written = [target]
            elif format == "spacy":
                written = docbin.write(corpus, target)
            elif format == "nemo":
                match = NEMO_FILE.match(name)
                written = write_files(nemo_files(corpus, staging, match.group(2) if match else target.stem, options))
            else:
                written = write_files({target: dump_text(corpus, format)})
            names += [p.name for p in written if p.name not in names]
    return [Path(folder) / name for name in names]
