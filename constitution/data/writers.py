"""AI-feedback datasets out: a `datasets` folder (TRL's preference columns) built from records or a JSONL file."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from constitution.atomic import atomic_write_text, move_into
from constitution.data.records import FeedbackRecord

STATE, INFO = "state.json", "dataset_info.json"
INFO_TEXT = json.dumps(
    {"description": "Written by constitution. The features are in each Arrow file's schema: state.json alone publishes a version."},
    indent=2,
)
"""The ``dataset_info.json`` of every dataset written here: the same whatever the rows, so that replacing it can never
pair one version's info with another's data files (`load_from_disk` takes the features from the Arrow files' schema
when the info has none, and refuses a folder whose info and data disagree)."""


def dataset_row(record: FeedbackRecord) -> dict[str, Any]:
    """A record as a dataset row (``per_principle`` as a JSON string: its keys differ between constitutions)."""
    row = record.model_dump()
    row["per_principle"] = json.dumps(row["per_principle"], sort_keys=True)
    return row


def _jsonl_rows(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield dataset_row(FeedbackRecord.model_validate_json(line))


def _has_records(path: Path) -> bool:
    with open(path, encoding="utf-8") as fh:
        return any(line.strip() for line in fh)


def save_jsonl_as_dataset(jsonl: Path, out: Path) -> Path:
    """Write the records of a ``labels.jsonl`` as a `datasets` folder at ``out``, streaming (memory does not grow with
    it), without ever leaving ``out`` half written.

    The dataset is built in a temporary folder beside ``out`` (which also holds the Arrow build cache: `datasets`
    keys a generator's cache on its arguments, not on the file's content, so a shared cache could hand back a
    previous run's rows, and is removed, as is any a killed run left), then published by :func:`publish_dataset`. A
    file without records (every pair failed) gives an empty dataset with the record's columns.
    """
    return build_dataset(_jsonl_rows, jsonl, out, empty_columns=list(FeedbackRecord.model_fields))


def build_dataset(
    rows: Callable[[str], Iterator[dict[str, Any]]], jsonl: Path, out: Path, empty_columns: Sequence[str] = ()
) -> Path:
    """``rows(path)``'s rows as a `datasets` folder at ``out``, streamed, built beside it in a scratch folder (with
    its own Arrow cache) that is removed, and published by :func:`publish_dataset`; a file without rows gives an
    empty dataset with ``empty_columns``."""
    import datasets

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.build-*"):  # left by a run killed while building
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        staged = scratch / "dataset"
        if _has_records(jsonl):
            ds = datasets.Dataset.from_generator(rows, gen_kwargs={"path": str(jsonl)}, cache_dir=str(scratch / "cache"))
        else:  # `datasets` cannot build from a generator that yields nothing
            ds = datasets.Dataset.from_dict({name: [] for name in empty_columns})
        ds.save_to_disk(str(staged), num_shards=None if len(ds) else 1)
        publish_dataset(staged, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def publish_dataset(staged: Path, out: Path) -> None:
    """Move the `datasets` folder ``staged`` into ``out`` (a folder with other files: ``labels.jsonl``, the cache)
    so that ``out`` loads as the old dataset or the new one whatever the moment a kill comes.

    One file publishes the new version: ``state.json``, which lists the data files `load_from_disk` reads. The new
    Arrow files get names of their own (``data-<random tag>-NNNNN-of-NNNNN.arrow``) and are moved in beside the old
    ones; ``dataset_info.json`` is :data:`INFO_TEXT`, which no version changes (the features travel in the Arrow
    files); then ``state.json`` is renamed over the old; only then are the old Arrow files removed.
    """
    state = json.loads((staged / STATE).read_text(encoding="utf-8"))
    tag = uuid.uuid4().hex[:12]
    renamed = [f"data-{tag}-{entry['filename'].removeprefix('data-')}" for entry in state["_data_files"]]
    move_into(out, [(staged / entry["filename"], name) for entry, name in zip(state["_data_files"], renamed)])
    state["_data_files"] = [{"filename": name} for name in renamed]
    atomic_write_text(out / INFO, INFO_TEXT)
    atomic_write_text(out / STATE, json.dumps(state, indent=2, sort_keys=True))
    for old in out.glob("data-*.arrow"):
        if old.name not in renamed:
            old.unlink()
