"""Preference benchmark rows in RewardBench's layout: ``prompt`` (a string or chat messages), ``chosen``,
``rejected`` (strings, or message lists ending in the assistant's reply), ``subset`` (optional: ``all`` when left
out) and an optional ``id``.

From a JSONL/CSV/Parquet file or a `datasets` folder, read lazily; or from a hub id (``allenai/reward-bench``) when
online, where ``split`` picks the split (default ``filtered`` when there is one, else the first). A row with a
missing column or an unusable value raises :class:`InputError` naming its file and line (or row).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from constitution.data.pairs import row_to_pair
from constitution.data.records import Pair
from constitution.data.rows import Row, iter_rows
from constitution.errors import InputError

COLUMNS = ("prompt", "chosen", "rejected")
DEFAULT_SUBSET = "all"


class BenchRow(NamedTuple):
    """One benchmark comparison: the pair (response A is the chosen one) and its subset."""

    pair: Pair
    subset: str


def _hub_rows(source: str, split: str | None) -> Iterator[Row]:
    import datasets

    try:
        loaded: Any = datasets.load_dataset(source, split=split)
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, unknown split: all mean "cannot read this source"
        raise InputError(f"not a file or folder, and not readable as a hub dataset ({exc.__class__.__name__}: {exc})", where=source) from exc
    if isinstance(loaded, datasets.DatasetDict):
        split = "filtered" if "filtered" in loaded else next(iter(loaded))
        loaded = loaded[split]
    for index, row in enumerate(loaded):
        yield f"{source}[{split}] row {index}", row


def read_bench(source: str | Path, *, limit: int | None = None, split: str | None = None) -> Iterator[BenchRow]:
    """The rows of a benchmark (the first ``limit``), read lazily."""
    rows = iter_rows(source) if Path(source).exists() else _hub_rows(str(source), split)
    for index, (where, row) in enumerate(rows):
        if limit is not None and index >= limit:
            return
        absent = [c for c in COLUMNS if row.get(c) is None]
        if absent:
            raise InputError(f"missing column(s) {absent}: a benchmark row has {list(COLUMNS)} and a subset", where=where)
        pair = row_to_pair(row, "trl", where, row_id=str(index))
        yield BenchRow(pair, str(row.get("subset") or DEFAULT_SUBSET))  # type: ignore[arg-type]
