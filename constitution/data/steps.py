"""Reasoning traces split into steps, in TRL's stepwise-supervision layout: ``{prompt, completions, labels}``.

``completions`` is the list of steps and ``labels`` holds one label per step: ``true``/``false`` (TRL's layout) or a
soft probability in [0, 1] that the step is good. A ``soft_labels`` column (what ``constitution label-steps`` writes
beside its boolean ``labels``) is read in their place: the soft values are what a process model learns. A row may instead hold
a plain trace (``response``, ``completion``, ``trace`` or ``text``: one string) that is split into steps at a
separator (default a blank line, ``"\\n\\n"``); empty steps are dropped.

:class:`StepReader` reads lazily; a bad row raises :class:`InputError` naming ``FILE:LINE`` (or ``FILE row N``), or
with ``on_bad`` is handed to it, counted in ``report.bad_rows`` and skipped. :func:`write_steps` writes JSONL
atomically; :func:`save_steps_dataset` a `datasets` folder that TRL reads as is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from constitution.atomic import atomic_write_lines
from constitution.data.dialogue import as_messages
from constitution.data.records import LoadReport, Message
from constitution.data.rows import OnBad, iter_rows, report_or_raise
from constitution.data.writers import build_dataset
from constitution.errors import InputError
from constitution.hashing import content_hash

DEFAULT_SEPARATOR = "\n\n"
TRACE_COLUMNS = ("response", "completion", "trace", "text")


class StepTrace(BaseModel):
    """A prompt and the steps of one reasoning trace, with a label per step where known (bool or P(step good))."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: str | list[Message]
    completions: list[str] = Field(min_length=1, description="the steps, in order")
    labels: list[bool | float] | None = Field(None, description="one per step: bool, or P(step is good) in [0, 1]")

    @field_validator("labels")
    @classmethod
    def _in_range(cls, labels: list[bool | float] | None) -> list[bool | float] | None:
        for i, x in enumerate(labels or []):
            if not isinstance(x, bool) and (math.isnan(x) or not 0.0 <= x <= 1.0):
                raise ValueError(f"label {i} must be true/false or in [0, 1], got {x!r}")
        return labels

    @model_validator(mode="after")
    def _one_label_per_step(self) -> StepTrace:
        if self.labels is not None and len(self.labels) != len(self.completions):
            raise ValueError(f"{len(self.labels)} labels for {len(self.completions)} steps (need one per step)")
        return self

    @property
    def messages(self) -> list[Message]:
        """The prompt as chat messages."""
        return as_messages(self.prompt)

    def step_hash(self, k: int) -> str:
        """Content hash of (prompt, steps before k, step k): what a judgment of step k depends on."""
        prompt = [m.model_dump() for m in self.messages]
        return content_hash(prompt, self.completions[:k], self.completions[k])

    def soft_labels(self) -> list[float] | None:
        """The labels as floats (True -> 1.0)."""
        return None if self.labels is None else [float(x) for x in self.labels]

    def first_error(self, threshold: float = 0.5) -> int:
        """Index of the first step labelled below ``threshold`` (bad), or -1 when every step is good (ProcessBench)."""
        return next((k for k, p in enumerate(self.soft_labels() or []) if p < threshold), -1)

    def row(self) -> dict[str, Any]:
        """The TRL stepwise row (``id`` first; ``labels`` left out when there are none)."""
        return self.model_dump(mode="json", exclude_none=True)


def hard_labels(soft: Iterable[float]) -> list[bool]:
    """TRL's boolean step labels from P(step good): true from 0.5 up (TRL's PRM trainer does ``int(label)``)."""
    return [p >= 0.5 for p in soft]


def split_steps(text: str, separator: str = DEFAULT_SEPARATOR) -> list[str]:
    """A plain trace's steps: split at ``separator``, stripped, empty ones dropped."""
    if not separator:
        raise InputError("the step separator is empty")
    return [s.strip() for s in text.split(separator) if s.strip()]


def row_to_trace(row: dict[str, Any], where: str, index: int, separator: str = DEFAULT_SEPARATOR) -> StepTrace:
    """One row (stepwise or plain trace) -> a StepTrace; InputError naming ``where`` when it is not one."""
    row_id = str(row["id"]) if row.get("id") not in (None, "") else str(index)
    prompt = row.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        raise InputError("missing or empty column 'prompt'", where=where)
    if not isinstance(prompt, str):
        prompt = as_messages(prompt, where, "prompt")
    if "completions" in row:
        steps = row["completions"]
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise InputError("column 'completions': expected a list of step strings", where=where)
    else:
        column = next((c for c in TRACE_COLUMNS if isinstance(row.get(c), str)), None)
        if column is None:
            raise InputError(f"expected `completions` (a list of steps) or a trace string in one of {list(TRACE_COLUMNS)}", where=where)
        steps = split_steps(row[column], separator)
    if not steps:
        raise InputError("the trace has no steps", where=where)
    try:
        labels = row.get("soft_labels") if row.get("soft_labels") is not None else row.get("labels")
        return StepTrace(id=row_id, prompt=prompt, completions=steps, labels=None if labels == [] else labels)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(part) for part in err["loc"]) or "row"
        raise InputError(f"{field}: {err['msg']}", where=where) from exc


class StepReader:
    """Traces from any supported source, read lazily (each iteration reads afresh); ``report`` counts rows."""

    def __init__(self, source: str | Path, *, separator: str = DEFAULT_SEPARATOR, limit: int | None = None, on_bad: OnBad | None = None) -> None:
        self.source = source
        self.separator = separator
        self.limit = limit
        self.on_bad = on_bad
        self.report = LoadReport(source=str(source), format="steps")

    def __iter__(self) -> Iterator[StepTrace]:
        report = self.report = LoadReport(source=str(self.source), format="steps")

        def bad(error: InputError) -> None:
            report.bad_rows += 1
            report_or_raise(error, self.on_bad)

        for index, (where, row) in enumerate(iter_rows(self.source, bad)):
            if self.limit is not None and report.kept >= self.limit:
                return
            report.rows += 1
            try:
                trace = row_to_trace(row, where, index, self.separator)
            except InputError as error:
                bad(error)
                continue
            report.kept += 1
            yield trace
        if not report.kept:
            raise InputError(f"no usable traces ({report.bad_rows} bad row(s))", where=str(self.source))


def load_steps(source: str | Path, *, separator: str = DEFAULT_SEPARATOR, limit: int | None = None) -> list[StepTrace]:
    """Every trace of a source as a list (the first bad row raises)."""
    return list(StepReader(source, separator=separator, limit=limit))


def write_steps(path: str | Path, traces: Iterable[StepTrace]) -> Path:
    """Traces as TRL stepwise JSONL, written atomically."""
    return atomic_write_lines(path, (json.dumps(t.row(), ensure_ascii=False) + "\n" for t in traces))


def _dataset_rows(path: str) -> Iterator[dict[str, Any]]:
    for trace in StepReader(path):
        row = trace.row()
        soft = trace.soft_labels() or []
        row["labels"], row["soft_labels"] = hard_labels(soft), soft
        if not isinstance(trace.prompt, str):  # TRL's stepwise prompt is text
            row["prompt"] = "\n\n".join(m.content for m in trace.prompt)
        yield row


def save_steps_dataset(jsonl: Path, out: Path) -> Path:
    """A stepwise JSONL file as a `datasets` folder: columns id, prompt, completions, ``labels`` (bools, TRL's
    stepwise layout) and ``soft_labels`` (P(step good), read back in their place)."""
    return build_dataset(_dataset_rows, jsonl, out, empty_columns=["id", "prompt", "completions", "labels", "soft_labels"])
