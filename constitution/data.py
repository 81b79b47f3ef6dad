"""Preference-pair formats and I/O: read pairs from JSONL/Parquet/CSV/`datasets`, write AI-feedback datasets.

Accepted row shapes (detected per file from its columns):

* ``{prompt, response_a, response_b}`` (optionally ``p_a``: the probability that A is preferred);
* TRL preference ``{prompt, chosen, rejected}``: strings or chat messages (A = chosen, ``p_a`` = 1);
* HH-RLHF ``{chosen, rejected}`` dialogues (``"\\n\\nHuman: …\\n\\nAssistant: …"``) or implicit-prompt message lists:
  the shared turns become the prompt, the differing last assistant turns the responses.

Bad input raises :class:`InputError` naming the file and line (``FILE:LINE``; ``FILE row N`` for Parquet and
`datasets`): invalid JSON or UTF-8, a last line cut off mid-row (a killed writer), a truncated or corrupt gzip
stream, a row over ``MAX_ROW_BYTES`` (1 MiB; HH-RLHF rows are under 8 KiB), an empty row or prompt, missing or
unknown columns, a label ``p_a`` that is not a number in [0, 1], and a file none of whose HH pairs is usable.
Text files are read and decoded one line at a time, so an error points at its own line.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from constitution.errors import InputError

Role = Literal["system", "user", "assistant"]
MAX_ROW_BYTES = 1 << 20  # one row of input (a JSONL/CSV line, a Parquet/`datasets` row as JSON), in bytes


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
    dropped_where: list[str] = Field(default_factory=list, description="where the first few dropped rows are")


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


def as_messages(value: Any, where: str | None = None, column: str = "prompt") -> list[Message]:
    """A prompt as Messages: a string (one user turn), Messages or chat-message dicts; else InputError at ``where``."""
    if isinstance(value, str):
        return [Message(role="user", content=value)]
    if isinstance(value, (list, tuple)) and all(isinstance(m, (Message, dict)) for m in value):
        messages = []
        for i, m in enumerate(value):
            try:
                messages.append(m if isinstance(m, Message) else Message.model_validate(m))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(part) for part in err["loc"])
                raise InputError(f"column {column!r}: chat message {i}: {field}: {err['msg']}", where=where) from exc
        return messages
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


_COLUMNS = {  # format -> the columns it needs; the first format whose columns a file has is its format
    "ab": ("prompt", "response_a", "response_b"),
    "trl": ("prompt", "chosen", "rejected"),
    "hh": ("chosen", "rejected"),
}


def _detect_format(columns: set[str], where: str) -> str:
    for fmt, needed in _COLUMNS.items():
        if set(needed) <= columns:
            return fmt
    raise InputError(
        f"unknown pair format: columns {sorted(columns)}; expected {{prompt, response_a, response_b}}, "
        "{prompt, chosen, rejected} or HH-RLHF {chosen, rejected}",
        where=where,
    )


def _is_blank(value: Any) -> bool:
    """None, a blank string, or an empty list or mapping."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict)) and not value)


def _label(value: Any, where: str) -> float | None:
    if value is None or value == "":  # an empty CSV cell: unlabelled
        return None
    try:
        p = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"p_a is not a number: {value!r}", where=where) from exc
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise InputError(f"p_a must be in [0, 1], got {value!r}", where=where)
    return p


def _prompt(value: Any, where: str) -> list[Message]:
    messages = as_messages(value, where, "prompt")
    if not any(m.content.strip() for m in messages):
        raise InputError("column 'prompt' is empty", where=where)
    return messages


def row_to_pair(row: dict[str, Any], fmt: str, where: str, row_id: str) -> Pair | None:
    """One row -> a Pair; None for an HH pair whose dialogues differ before the last turn."""
    if fmt == "ab":
        return Pair(
            id=str(row.get("id", row_id)),
            prompt=_prompt(row["prompt"], where),
            response_a=_as_response(row["response_a"], where, "response_a"),
            response_b=_as_response(row["response_b"], where, "response_b"),
            p_a=_label(row.get("p_a"), where),
        )
    if fmt == "trl":
        return Pair(
            id=str(row.get("id", row_id)),
            prompt=_prompt(row["prompt"], where),
            response_a=_as_response(row["chosen"], where, "chosen"),
            response_b=_as_response(row["rejected"], where, "rejected"),
            p_a=1.0,
        )
    chosen, rejected = row["chosen"], row["rejected"]
    try:
        if isinstance(chosen, str) and isinstance(rejected, str):
            split = _split_dialogues(parse_dialogue(chosen), parse_dialogue(rejected))
        else:
            split = _split_dialogues(as_messages(chosen, where, "chosen"), as_messages(rejected, where, "rejected"))
    except ValueError as exc:
        raise InputError(str(exc), where=where) from exc
    if split is None:
        return None
    prompt, a, b = split
    return Pair(id=str(row.get("id", row_id)), prompt=prompt, response_a=a, response_b=b, p_a=1.0)


def _too_large(where: str) -> InputError:
    return InputError(f"row too large: over the per-row limit of {MAX_ROW_BYTES} bytes", where=where)


def _read_lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, ends in a newline) per line of a text file, gunzipped if ``*.gz``.

    Lines are decoded one at a time, so invalid UTF-8 is reported on its own line; a line over ``MAX_ROW_BYTES``
    and a truncated or corrupt gzip stream raise InputError too.
    """
    lineno = 0
    try:
        with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as fh:
            while raw := fh.readline(MAX_ROW_BYTES + 1):
                lineno += 1
                if len(raw) > MAX_ROW_BYTES:
                    raise _too_large(f"{path}:{lineno}")
                try:
                    text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    bad = exc.object[exc.start]
                    raise InputError(f"not valid UTF-8 (byte 0x{bad:02x} at offset {exc.start})", where=f"{path}:{lineno}") from exc
                yield lineno, text, raw.endswith(b"\n")
    except EOFError as exc:
        raise InputError("truncated gzip file: the compressed data ends early, the file looks cut off", where=f"{path}:{lineno + 1}") from exc
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"corrupt gzip file ({exc})", where=f"{path}:{lineno + 1}") from exc


def _check_size(row: dict[str, Any], where: str) -> dict[str, Any]:
    """The row, unless its JSON form is over ``MAX_ROW_BYTES``."""
    if len(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")) > MAX_ROW_BYTES:
        raise _too_large(where)
    return row


def _iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, text, complete in _read_lines(path):
        if not text.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            if not complete:  # only the last line can lack its newline: a writer killed mid-row leaves this
                raise InputError("truncated: the last line is incomplete JSON with no newline; the file looks cut off", where=where) from exc
            raise InputError(f"invalid JSON ({exc.msg})", where=where) from exc
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", where=where)
        yield where, row


def _iter_csv(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(text for _, text, _ in _read_lines(path))
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise InputError(f"{len(row[None])} more field(s) than the header has", where=where)
            yield where, _check_size(row, where)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", where=f"{path}:{reader.line_num}") from exc


def _iter_dataset(rows: Iterable[dict[str, Any]], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(rows):
        where = f"{name} row {i}"
        yield where, _check_size(row, where)


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
    """Read preference pairs from any supported source.

    HH pairs that differ before the last turn are dropped and counted (with where the first few are); a source
    without a single usable pair is an error.
    """
    pairs: list[Pair] = []
    report: LoadReport | None = None
    for index, (where, row) in enumerate(iter_rows(source)):
        if all(_is_blank(v) for v in row.values()):
            raise InputError("empty row: every field is empty", where=where)
        if report is None:
            report = LoadReport(source=str(source), format=_detect_format(set(row), where))
        absent = [c for c in _COLUMNS[report.format] if row.get(c) is None]
        if absent:
            raise InputError(f"missing column(s) {absent}", where=where)
        report.rows += 1
        pair = row_to_pair(row, report.format, where, row_id=str(index))
        if pair is None:
            report.dropped_mismatched += 1
            if len(report.dropped_where) < 5:
                report.dropped_where.append(where)
            continue
        pair.source = str(source)
        pairs.append(pair)
        if limit is not None and len(pairs) >= limit:
            break
    if report is None:
        raise InputError("no rows", where=str(source))
    if not pairs:
        raise InputError(
            f"no usable pairs: in all {report.rows} HH pair(s), chosen and rejected differ before the last turn "
            "(or do not end in an assistant reply)",
            where=report.dropped_where[0],
        )
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
