"""Preference pairs from rows, in any of three shapes (detected from the first row's columns):

* ``{prompt, response_a, response_b}`` (optionally ``p_a``: the probability that A is preferred);
* TRL preference ``{prompt, chosen, rejected}``: strings or chat messages (A = chosen, ``p_a`` = 1);
* HH-RLHF ``{chosen, rejected}`` dialogues (``"\\n\\nHuman: …\\n\\nAssistant: …"``) or implicit-prompt message lists:
  the shared turns become the prompt, the differing last assistant turns the responses.

:class:`PairReader` reads lazily (one row at a time) and counts what it kept and dropped; :func:`load_pairs` is
the list form. Bad rows raise :class:`InputError` naming ``FILE:LINE`` (or ``FILE row N``): an empty row or prompt,
missing or unknown columns, a label ``p_a`` that is not a number in [0, 1], and a source none of whose HH pairs is
usable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from constitution.data.dialogue import as_messages, as_response, parse_dialogue
from constitution.data.records import LoadReport, Message, Pair
from constitution.data.rows import OnBad, iter_rows, report_or_raise
from constitution.errors import InputError
from constitution.hashing import content_hash

T = TypeVar("T")

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


def is_pair_row(row: dict[str, Any]) -> bool:
    """Whether a row has the columns of one of the pair formats."""
    return any(set(needed) <= set(row) for needed in _COLUMNS.values())


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


def _split_dialogues(chosen: list[Message], rejected: list[Message]) -> tuple[list[Message], str, str] | None:
    """Shared prefix + differing last assistant turns; None if the two differ before their last turn."""
    if not chosen or not rejected or chosen[-1].role != "assistant" or rejected[-1].role != "assistant":
        return None
    if chosen[:-1] != rejected[:-1]:
        return None
    return chosen[:-1], chosen[-1].content, rejected[-1].content


def row_to_pair(row: dict[str, Any], fmt: str, where: str, row_id: str) -> Pair | None:
    """One row -> a Pair; None for an HH pair whose dialogues differ before the last turn."""
    pair_id = str(row.get("id", row_id))
    if fmt == "ab":
        return Pair(
            id=pair_id,
            prompt=_prompt(row["prompt"], where),
            response_a=as_response(row["response_a"], where, "response_a"),
            response_b=as_response(row["response_b"], where, "response_b"),
            p_a=_label(row.get("p_a"), where),
        )
    if fmt == "trl":
        return Pair(
            id=pair_id,
            prompt=_prompt(row["prompt"], where),
            response_a=as_response(row["chosen"], where, "chosen"),
            response_b=as_response(row["rejected"], where, "rejected"),
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
    return Pair(id=pair_id, prompt=prompt, response_a=a, response_b=b, p_a=1.0)


class PairReader:
    """Pairs from any supported source, read lazily; ``report`` counts rows kept and dropped as it goes.

    HH pairs that differ before the last turn are dropped and counted (with where the first few are); a source
    without a single usable pair is an error, raised when the iteration ends. A bad row raises, or with ``on_bad``
    is handed to it and skipped (the format itself is decided by the first row: an unknown one always raises).
    Each iteration reads the source afresh.
    """

    def __init__(self, source: str | Path, *, limit: int | None = None, on_bad: OnBad | None = None) -> None:
        self.source = source
        self.limit = limit
        self.on_bad = on_bad
        self.report = LoadReport(source=str(source))

    def _pair(self, index: int, where: str, row: dict[str, Any]) -> Pair | None:
        report = self.report
        if all(_is_blank(v) for v in row.values()):
            raise InputError("empty row: every field is empty", where=where)
        if not report.format:
            report.format = _detect_format(set(row), where)
        absent = [c for c in _COLUMNS[report.format] if row.get(c) is None]
        if absent:
            raise InputError(f"missing column(s) {absent}", where=where)
        return row_to_pair(row, report.format, where, row_id=str(index))

    def __iter__(self) -> Iterator[Pair]:
        report = self.report = LoadReport(source=str(self.source))

        def bad(error: InputError) -> None:
            report.bad_rows += 1
            report_or_raise(error, self.on_bad)

        for index, (where, row) in enumerate(iter_rows(self.source, bad)):
            if self.limit is not None and report.kept >= self.limit:
                return
            try:
                pair = self._pair(index, where, row)
            except InputError as error:
                if not report.format:
                    raise
                bad(error)
                continue
            report.rows += 1
            if pair is None:
                report.dropped_mismatched += 1
                if len(report.dropped_where) < 5:
                    report.dropped_where.append(where)
                continue
            pair.source = str(self.source)
            report.kept += 1
            yield pair
        if not report.format:
            raise InputError("no usable rows" if report.bad_rows else "no rows", where=str(self.source))
        if not report.kept and report.dropped_mismatched:
            raise InputError(
                f"no usable pairs: in all {report.rows} HH pair(s), chosen and rejected differ before the last turn "
                "(or do not end in an assistant reply)",
                where=report.dropped_where[0],
            )
        if not report.kept:
            raise InputError(f"no usable pairs ({report.bad_rows} bad row(s))", where=str(self.source))


def scan_pairs(source: str | Path, *, limit: int | None = None, on_bad: OnBad | None = None) -> LoadReport:
    """Read a source once without keeping anything: what it holds (pairs kept, dropped, bad rows)."""
    reader = PairReader(source, limit=limit, on_bad=on_bad)
    for _ in reader:
        pass
    return reader.report


def load_pairs(source: str | Path, *, limit: int | None = None) -> tuple[list[Pair], LoadReport]:
    """Every pair of a source (up to ``limit``) as a list, and what the read kept and dropped."""
    reader = PairReader(source, limit=limit)
    return list(reader), reader.report


def split_pairs(pairs: list[Pair], n_train: int, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """About ``n_train`` pairs to train on and the rest to test on, split by prompt: pairs that share a prompt (the
    responses ``generate`` samples for it) always land on the same side (see :func:`split_by_prompt`)."""
    return split_by_prompt(pairs, n_train, seed, lambda pair: [m.model_dump() for m in pair.prompt])


def split_by_prompt(items: list[T], n_train: int, seed: int, prompt: Callable[[T], Any]) -> tuple[list[T], list[T]]:
    """About ``n_train`` items to train on and the rest to test on; items with the same ``prompt(item)`` (any
    JSON-serialisable value) always land on the same side.

    Prompts are ranked by a hash of (seed, prompt) and taken in that order: a prompt's items go to the test side when
    that brings it no further from ``len(items) - n_train`` items (so it may hold a few more or fewer), and never every
    prompt (the train side keeps one at least). The split depends only on the seed and the set of items, not on their
    order in the file; each side keeps the input order.
    """
    n_test = len(items) - n_train
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(content_hash(seed, prompt(item)), []).append(i)
    test: set[int] = set()
    for key in sorted(groups)[: len(groups) - 1]:
        if 2 * (n_test - len(test)) >= len(groups[key]):
            test.update(groups[key])
    return [x for i, x in enumerate(items) if i not in test], [x for i, x in enumerate(items) if i in test]
