"""AI-feedback datasets out: a `datasets` folder (TRL's preference columns) built from records or a JSONL file."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from constitution.data.records import FeedbackRecord


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
    """Write the records of a ``labels.jsonl`` as a `datasets` folder, streaming (memory does not grow with it).

    The Arrow build cache lives in a temporary folder beside ``out`` and is removed: `datasets` keys a generator's
    cache on its arguments, not on the file's content, so a shared cache could hand back a previous run's rows.
    A file without records (every pair failed) gives an empty dataset with the record's columns.
    """
    import datasets

    if not _has_records(jsonl):  # `datasets` cannot build from a generator that yields nothing
        datasets.Dataset.from_dict({name: [] for name in FeedbackRecord.model_fields}).save_to_disk(str(out), num_shards=1)
        return out
    return build_dataset(_jsonl_rows, jsonl, out)


def build_dataset(rows: Callable[[str], Iterator[dict[str, Any]]], jsonl: Path, out: Path) -> Path:
    """``rows(path)``'s rows as a `datasets` folder at ``out``, streamed, built in a scratch cache that is removed."""
    import datasets

    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        ds = datasets.Dataset.from_generator(rows, gen_kwargs={"path": str(jsonl)}, cache_dir=str(scratch))
        ds.save_to_disk(str(out))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out
