"""Audit a reward model: rewrite each response with every probe and measure how the normalised reward moves.

Each rewrite also gets its length-matched neutral control (:mod:`constitution.audit.control`; length in the model's
tokens), so every probe is reported against the original and against its control; a probe marked
``vs_length_control`` is flagged only when the reward rises against both (length alone raises it against the
original only). All originals, rewrites and
controls are scored in one length-sorted run (each distinct text once). A per-principle model is read through
:meth:`RewardModel.explain` (each principle's part of the normalised reward), so the report also says which heads
move; a scalar model through :meth:`RewardModel.score`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constitution.audit.control import length_control, token_counter
from constitution.audit.probeset import AuditItem, Probe, ProbeSet
from constitution.audit.records import AuditReport, Change, HeadMove, ProbeResult
from constitution.errors import InputError

if TYPE_CHECKING:
    from constitution.reward.model import RewardModel

RAISED = 1e-9  # a change above this counts as raised (ties from identical inputs do not)


def change(deltas: Sequence[float]) -> Change:
    """Mean and 95% Student-t interval of per-item changes."""
    n = len(deltas)
    mean = sum(deltas) / n if n else 0.0
    if n < 2:
        return Change(mean=mean, ci_low=None, ci_high=None)
    from scipy.stats import t

    sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return Change(mean=mean, ci_low=mean - half, ci_high=mean + half)


def _flagged(expect: str, c: Change) -> bool:
    if c.ci_low is None or c.ci_high is None:
        return c.mean > 0 if expect == "no_raise" else c.mean >= 0
    return c.ci_low > 0 if expect == "no_raise" else c.ci_high >= 0


def _score(model: RewardModel, items: list[Any], batch_size: int) -> tuple[list[float], list[dict[str, float]] | None]:
    if model.heads:
        return model.explain(items, batch_size=batch_size, normalize=True)
    return model.score(items, batch_size=batch_size, normalize=True), None


class _Texts:
    """The distinct (conversation, response) inputs to score, each with its row."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []
        self.rows: dict[tuple[int, str], int] = {}

    def row(self, index: int, item: AuditItem, response: str) -> int:
        key = (index, response)
        if key not in self.rows:
            self.rows[key] = len(self.inputs)
            self.inputs.append((item.conversation, response))
        return self.rows[key]


def _heads(parts: list[dict[str, float]], rows: list[tuple[int, int]]) -> list[HeadMove]:
    """How each head moved from the first row of each pair to the second, largest move first."""
    heads = []
    for head in parts[0]:
        h = change([parts[new][head] - parts[base][head] for base, new in rows])
        moved = h.ci_low is not None and (h.ci_low > 0 or h.ci_high < 0)  # type: ignore[operator]
        heads.append(HeadMove(head=head, mean=h.mean, ci_low=h.ci_low, ci_high=h.ci_high, moved=moved))
    return sorted(heads, key=lambda m: -abs(m.mean))


def _result(probe: Probe, asked: list[tuple[int, int, int]], rewards: list[float], parts: list[dict[str, float]] | None) -> ProbeResult:
    """One probe's result from its (original, edited, control) rows."""
    deltas = [rewards[edited] - rewards[original] for original, edited, _ in asked]
    raw = change(deltas)
    vs_control = change([rewards[edited] - rewards[control] for _, edited, control in asked])
    base = 2 if probe.vs_length_control else 0  # where its heads' moves are measured from: its control or the original
    flagged = bool(deltas) and _flagged(probe.expect, raw) and (not probe.vs_length_control or _flagged(probe.expect, vs_control))
    return ProbeResult(
        probe=probe.id, description=probe.description, expect=probe.expect, items=len(asked), change=raw,
        control=change([rewards[control] - rewards[original] for original, _, control in asked]), vs_control=vs_control,
        judged_vs_control=probe.vs_length_control, share_raised=sum(d > RAISED for d in deltas) / len(deltas) if deltas else 0.0,
        flagged=flagged,
        heads=_heads(parts, [(rows[base], rows[1]) for rows in asked]) if parts is not None and asked else [],
    )  # fmt: skip


def audit_reward_model(model: RewardModel, probes: ProbeSet, items: Sequence[AuditItem], *, name: str = "", batch_size: int = 64) -> AuditReport:
    """Every probe, and its length-matched control, over every item it applies to; the report of the normalised
    reward's changes."""
    if not items:
        raise InputError("no responses to audit")
    texts = _Texts()
    measure = token_counter(getattr(model, "tokenizer", None))  # the control is as long as the model reads it
    originals = [texts.row(i, item, item.response) for i, item in enumerate(items)]
    asked: list[list[tuple[int, int, int]]] = []  # per probe: (original, edited, control) rows
    for probe in probes.probes:
        rows = []
        for i, item in enumerate(items):
            if probes.applies(probe, item):
                try:
                    edited = probes.apply(probe, item)
                except InputError as exc:
                    raise InputError(f"probe {probe.id!r} on item {item.id!r}: {exc}") from exc
                control = length_control(item.response, edited, probes.neutral_text, measure)
                rows.append((originals[i], texts.row(i, item, edited), texts.row(i, item, control)))
        asked.append(rows)
    rewards, parts = _score(model, texts.inputs, batch_size)
    results = [_result(probe, rows, rewards, parts) for probe, rows in zip(probes.probes, asked)]
    return AuditReport(model=name, items=len(items), probes=results)


def read_items(source: str | Path, limit: int | None = None) -> list[AuditItem]:
    """Responses to audit: rows with ``response`` (or ``completion``) and ``prompt`` (any layout ``score`` reads),
    and an optional boolean ``safe`` (default true)."""
    from constitution.data.responses import response_row
    from constitution.data.rows import iter_rows

    items = []
    for index, (where, row) in enumerate(iter_rows(source)):
        if limit is not None and index >= limit:
            break
        safe = True if row.get("safe") is None else row["safe"]
        if not isinstance(safe, bool):
            raise InputError(f"column 'safe': expected true or false, got {safe!r}", where=where)
        read = response_row(row, where, index)
        items.append(AuditItem(id=read.id, conversation=read.conversation, response=read.response, safe=safe))
    if not items:
        raise InputError("no rows", where=str(source))
    return items
