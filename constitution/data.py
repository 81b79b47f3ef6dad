"""Preference-pair formats and I/O: read pairs from JSONL/Parquet/CSV/`datasets`, write AI-feedback datasets.

Accepted row shapes (detected per file from its columns):

* ``{prompt, response_a, response_b}`` (optionally ``p_a``: the probability that A is preferred);
* TRL preference ``{prompt, chosen, rejected}``: strings or chat messages (A = chosen, ``p_a`` = 1);
* HH-RLHF ``{chosen, rejected}`` dialogues (``"\\n\\nHuman: …\\n\\nAssistant: …"``) or implicit-prompt message lists:
  the shared turns become the prompt, the differing last assistant turns the responses.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.errors import InputError

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Role
    content: str


class Pair(BaseModel):
    """A prompt (conversation so far) with two candidate responses and, where known, a preference label."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: list[Message]
    response_a: str
    response_b: str
    p_a: float | None = Field(default=None, ge=0.0, le=1.0, description="P(A preferred) from the source's label")
    source: str = ""

    def pair_hash(self) -> str:
        """Content hash of the pair (prompt and both responses, in this order)."""
        return content_hash([m.model_dump() for m in self.prompt], self.response_a, self.response_b)


class FeedbackRecord(BaseModel):
    """One AI-feedback label (BRIEF section 4); ``chosen``/``rejected`` follow TRL's conversational format."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: list[Message]
    response_a: str
    response_b: str
    p_a: float
    chosen: list[Message]
    rejected: list[Message]
    p_chosen: float
    per_principle: dict[str, float]
    position_consistent: bool
    judge: str
    constitution_hash: str
    reference_p_a: float | None = Field(default=None, description="the input's own label (human, for HH/TRL data)")


class LoadReport(BaseModel):
    """What a read kept and dropped (e.g. HH dialogue pairs whose earlier turns differ)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    format: str
    rows: int = 0
    kept: int = 0
    dropped_mismatched: int = 0


def content_hash(*parts: Any) -> str:
    """Stable SHA-256 (16 hex chars) of JSON-serialisable parts in canonical form."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_dialogue(text: str) -> list[Message]:
    """Split an HH-RLHF dialogue string into messages; raises ValueError if it has no turns."""
    parts = _HH_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise ValueError("not an HH dialogue: expected '\\n\\nHuman: …\\n\\nAssistant: …'")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [Message(role=roles[parts[i]], content=parts[i + 1]) for i in range(1, len(parts), 2)]


def format_dialogue(messages: Iterable[Message]) -> str:
    """Messages -> HH-style text (``\\n\\nHuman: …\\n\\nAssistant: …``), the plain format for encoders."""
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return "".join(f"\n\n{names[m.role]}: {m.content}" for m in messages)


def _as_messages(value: Any, where: str, column: str) -> list[Message]:
    if isinstance(value, str):
        return [Message(role="user", content=value)]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        try:
            return [Message(**m) for m in value]
        except (TypeError, ValueError) as exc:
            raise InputError(f"column {column!r}: bad chat message ({exc.__class__.__name__})", where=where) from exc
    raise InputError(f"column {column!r}: expected a string or a list of chat messages", where=where)


def _as_response(value: Any, where: str, column: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict) and value[-1].get("role") == "assistant":
        return str(value[-1].get("content", ""))
    raise InputError(f"column {column!r}: expected a string or an assistant message", where=where)


def _split_dialogues(chosen: list[Message], rejected: list[Message]) -> tuple[list[Message], str, str] | None:
    """Shared prefix + differing last assistant turns; None if the two differ before their last turn."""
    if not chosen or not rejected or chosen[-1].role != "assistant" or rejected[-1].role != "assistant":
        return None
    if chosen[:-1] != rejected[:-1]:
        return None
    return chosen[:-1], chosen[-1].content, rejected[-1].content


def _detect_format(columns: set[str], source: str) -> str:
    if {"prompt", "response_a", "response_b"} <= columns:
        return "ab"
    if {"prompt", "chosen", "rejected"} <= columns:
        return "trl"
    if {"chosen", "rejected"} <= columns:
        return "hh"
    raise InputError(
        f"unknown pair format: columns {sorted(columns)}; expected {{prompt, response_a, response_b}}, "
        "{prompt, chosen, rejected} or HH-RLHF {chosen, rejected}",
        where=source,
    )


def _label(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        p = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"p_a is not a number: {value!r}", where=where) from exc
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise InputError(f"p_a must be in [0, 1], got {value!r}", where=where)
    return p


def row_to_pair(row: dict[str, Any], fmt: str, where: str, row_id: str) -> Pair | None:
    """One row -> a Pair; None for an HH pair whose dialogues differ before the last turn."""
    if fmt == "ab":
        return Pair(
            id=str(row.get("id", row_id)),
            prompt=_as_messages(row["prompt"], where, "prompt"),
            response_a=_as_response(row["response_a"], where, "response_a"),
            response_b=_as_response(row["response_b"], where, "response_b"),
            p_a=_label(row.get("p_a"), where),
        )
    if fmt == "trl":
        return Pair(
            id=str(row.get("id", row_id)),
            prompt=_as_messages(row["prompt"], where, "prompt"),
            response_a=_as_response(row["chosen"], where, "chosen"),
            response_b=_as_response(row["rejected"], where, "rejected"),
            p_a=1.0,
        )
    chosen, rejected = row["chosen"], row["rejected"]
    try:
        if isinstance(chosen, str) and isinstance(rejected, str):
            split = _split_dialogues(parse_dialogue(chosen), parse_dialogue(rejected))
        else:
            split = _split_dialogues(_as_messages(chosen, where, "chosen"), _as_messages(rejected, where, "rejected"))
    except ValueError as exc:
        raise InputError(str(exc), where=where) from exc
    if split is None:
        return None
    prompt, a, b = split
    return Pair(id=str(row.get("id", row_id)), prompt=prompt, response_a=a, response_b=b, p_a=1.0)


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def _iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with _open_text(path) as fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"invalid JSON ({exc.msg})", where=f"{path}:{lineno}") from exc
                if not isinstance(row, dict):
                    raise InputError("expected a JSON object", where=f"{path}:{lineno}")
                yield f"{path}:{lineno}", row
        except UnicodeDecodeError as exc:
            raise InputError("not valid UTF-8", where=f"{path}:{lineno + 1}") from exc


def _iter_csv(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with _open_text(path) as fh:
        try:
            reader = csv.DictReader(fh)
            for row in reader:
                yield f"{path}:{reader.line_num}", dict(row)
        except UnicodeDecodeError as exc:
            raise InputError("not valid UTF-8", where=str(path)) from exc


def _iter_dataset(rows: Iterable[dict[str, Any]], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(rows):
        yield f"{name} row {i}", row


def iter_rows(source: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, row) for every row of a JSONL(.gz)/JSON/Parquet/CSV file, a `datasets` folder or a hub id."""
    path = Path(source)
    name = path.name.lower()
    if path.is_file():
        if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
            return _iter_jsonl(path)
        if name.endswith((".csv", ".csv.gz")):
            return _iter_csv(path)
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(path)
            except Exception as exc:  # pyarrow raises several types for corrupt files
                raise InputError(f"cannot read Parquet ({exc})", where=str(path)) from exc
            return _iter_dataset(table.to_pylist(), str(path))
        raise InputError("unsupported file type (use .jsonl, .json, .csv, .parquet or a datasets folder)", where=str(path))
    import datasets

    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except FileNotFoundError as exc:
            raise InputError("not a `datasets` folder (no dataset_info.json/state.json)", where=str(path)) from exc
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else ds[next(iter(ds))]
        return _iter_dataset(ds, str(path))
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)) and not re.search(r"\.(jsonl?|csv|parquet|gz)$", name):
        ds = datasets.load_dataset(str(source), split="train")
        return _iter_dataset(ds, str(source))
    raise InputError("no such file or folder", where=str(source))


def load_pairs(source: str | Path, *, limit: int | None = None) -> tuple[list[Pair], LoadReport]:
    """Read preference pairs from any supported source; HH pairs that differ before the last turn are dropped."""
    pairs: list[Pair] = []
    report: LoadReport | None = None
    fmt = ""
    for index, (where, row) in enumerate(iter_rows(source)):
        if report is None:
            fmt = _detect_format(set(row), str(source))
            report = LoadReport(source=str(source), format=fmt)
        missing = {"ab": ("prompt", "response_a", "response_b"), "trl": ("prompt", "chosen", "rejected")}.get(
            fmt, ("chosen", "rejected")
        )
        absent = [c for c in missing if row.get(c) is None]
        if absent:
            raise InputError(f"missing column(s) {absent}", where=where)
        report.rows += 1
        pair = row_to_pair(row, fmt, where, row_id=str(index))
        if pair is None:
            report.dropped_mismatched += 1
            continue
        pair.source = str(source)
        pairs.append(pair)
        if limit is not None and len(pairs) >= limit:
            break
    if report is None:
        raise InputError("no rows", where=str(source))
    report.kept = len(pairs)
    return pairs, report


def split_pairs(pairs: list[Pair], n_train: int, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """Deterministic shuffle-split: the first ``n_train`` after a seeded shuffle, and the rest."""
    import random

    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    return [pairs[i] for i in order[:n_train]], [pairs[i] for i in order[n_train:]]


def records_to_dataset(records: Iterable[FeedbackRecord]):  # -> datasets.Dataset
    """AI-feedback records -> a `datasets.Dataset` with TRL's preference columns (prompt, chosen, rejected)."""
    import datasets

    rows = [r.model_dump() for r in records]
    for row in rows:
        row["per_principle"] = json.dumps(row["per_principle"], sort_keys=True)
    return datasets.Dataset.from_list(rows)


def save_dataset(ds, out: str | Path, fmt: Literal["disk", "parquet", "jsonl"] = "disk") -> Path:
    """Write a dataset as a `datasets` folder, a Parquet file or JSONL."""
    out = Path(out)
    if fmt == "disk":
        ds.save_to_disk(str(out))
    elif fmt == "parquet":
        ds.to_parquet(str(out))
    else:
        ds.to_json(str(out), lines=True, force_ascii=False)
    return out
