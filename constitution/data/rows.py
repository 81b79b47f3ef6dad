"""Rows from files, lazily: JSONL(.gz)/JSON, CSV, Parquet (row group by row group), `datasets` folders, hub ids.

Every row comes with where it is (``FILE:LINE``; ``FILE row N`` for Parquet and `datasets`), and bad input raises
:class:`InputError` naming it: invalid JSON or UTF-8, a last line cut off mid-row (a killed writer), a truncated or
corrupt gzip stream, a row over ``MAX_ROW_BYTES`` (1 MiB; HH-RLHF rows are under 8 KiB), malformed CSV. With
``on_bad``, an error that concerns one row only is handed to it and the reading goes on; errors that concern the
whole file (unreadable, cut-off compressed stream, unsupported type) always raise. Nothing is read ahead of the
consumer, so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from constitution.errors import InputError

MAX_ROW_BYTES = 1 << 20  # one row of input (a JSONL/CSV line, a Parquet/`datasets` row as JSON), in bytes
PARQUET_BATCH_ROWS = 1024

Row = tuple[str, dict[str, Any]]
OnBad = Callable[[InputError], None]


def report_or_raise(error: InputError, on_bad: OnBad | None) -> None:
    """Hand a one-row error to ``on_bad``, or raise it when there is none."""
    if on_bad is None:
        raise error
    on_bad(error)


def _too_large(where: str) -> InputError:
    return InputError(f"row too large: over the per-row limit of {MAX_ROW_BYTES} bytes", where=where)


def _read_lines(path: Path, on_bad: OnBad | None) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, ends in a newline) per line of a text file, gunzipped if ``*.gz``."""
    lineno = 0
    try:
        with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as fh:
            while raw := fh.readline(MAX_ROW_BYTES + 1):
                lineno += 1
                if len(raw) > MAX_ROW_BYTES:
                    while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                        raw = fh.readline(MAX_ROW_BYTES + 1)
                    report_or_raise(_too_large(f"{path}:{lineno}"), on_bad)
                    continue
                try:
                    text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    bad = exc.object[exc.start]
                    report_or_raise(InputError(f"not valid UTF-8 (byte 0x{bad:02x} at offset {exc.start})", where=f"{path}:{lineno}"), on_bad)
                    continue
                yield lineno, text, raw.endswith(b"\n")
    except EOFError as exc:
        raise InputError("truncated gzip file: the compressed data ends early, the file looks cut off", where=f"{path}:{lineno + 1}") from exc
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"corrupt gzip file ({exc})", where=f"{path}:{lineno + 1}") from exc


def _sized(row: dict[str, Any], where: str, on_bad: OnBad | None) -> bool:
    """Whether the row's JSON form is within ``MAX_ROW_BYTES`` (if not: reported, or raised)."""
    if len(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")) > MAX_ROW_BYTES:
        report_or_raise(_too_large(where), on_bad)
        return False
    return True


def _iter_jsonl(path: Path, on_bad: OnBad | None) -> Iterator[Row]:
    for lineno, text, complete in _read_lines(path, on_bad):
        if not text.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            if not complete:  # only the last line can lack its newline: a writer killed mid-row leaves this
                report_or_raise(InputError("truncated: the last line is incomplete JSON with no newline; the file looks cut off", where=where), on_bad)
            else:
                report_or_raise(InputError(f"invalid JSON ({exc.msg})", where=where), on_bad)
            continue
        if not isinstance(row, dict):
            report_or_raise(InputError("expected a JSON object", where=where), on_bad)
            continue
        yield where, row


def _iter_csv(path: Path, on_bad: OnBad | None) -> Iterator[Row]:
    reader = csv.DictReader(text for _, text, _ in _read_lines(path, on_bad))
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                report_or_raise(InputError(f"{len(row[None])} more field(s) than the header has", where=where), on_bad)
            elif _sized(row, where, on_bad):
                yield where, row
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", where=f"{path}:{reader.line_num}") from exc


def _iter_parquet(path: Path, on_bad: OnBad | None) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS)
        index = 0
        for batch in batches:
            for row in batch.to_pylist():
                where = f"{path} row {index}"
                if _sized(row, where, on_bad):
                    yield where, row
                index += 1
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"cannot read Parquet ({exc})", where=str(path)) from exc


def _iter_dataset(rows: Iterable[dict[str, Any]], name: str, on_bad: OnBad | None) -> Iterator[Row]:
    for i, row in enumerate(rows):
        where = f"{name} row {i}"
        if _sized(row, where, on_bad):
            yield where, row


def iter_rows(source: str | Path, on_bad: OnBad | None = None) -> Iterator[Row]:
    """(location, row) for every row of a JSONL(.gz)/JSON/Parquet/CSV file, a `datasets` folder or a hub id."""
    path = Path(source)
    name = path.name.lower()
    if path.is_file():
        if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
            return _iter_jsonl(path, on_bad)
        if name.endswith((".csv", ".csv.gz")):
            return _iter_csv(path, on_bad)
        if name.endswith(".parquet"):
            return _iter_parquet(path, on_bad)
        raise InputError("unsupported file type (use .jsonl, .json, .csv, .parquet or a datasets folder)", where=str(path))
    if path.is_dir():
        import datasets

        try:
            ds = datasets.load_from_disk(str(path))  # memory-mapped: rows are read as they are iterated
        except FileNotFoundError as exc:
            raise InputError("not a `datasets` folder (no dataset_info.json/state.json)", where=str(path)) from exc
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else ds[next(iter(ds))]
        return _iter_dataset(ds, str(path), on_bad)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)) and not re.search(r"\.(jsonl?|csv|parquet|gz)$", name):
        import datasets

        return _iter_dataset(datasets.load_dataset(str(source), split="train", streaming=True), str(source), on_bad)
    raise InputError("no such file or folder", where=str(source))


def first_row(source: str | Path) -> Row:
    """The first row of a source (InputError when it has none)."""
    for row in iter_rows(source):
        return row
    raise InputError("no rows", where=str(source))


def constitution_hashes(source: str | Path, column: str = "constitution_hash") -> list[str]:
    """Distinct ``constitution_hash`` (or another ``column``'s, e.g. ``step_principles_hash``) values in a data source,
    in order of appearance (empty for human-labelled data)."""
    seen: list[str] = []
    for _, row in iter_rows(source):
        value = row.get(column)
        if value and value not in seen:
            seen.append(str(value))
    return seen
