"""Audit a reward model: rewrite each response with every probe and measure how the normalised reward moves.

All originals and rewrites are scored in one length-sorted run. A per-principle model is read through
:meth:`RewardModel.explain` (each principle's part of the normalised reward), so the report also says which heads
move; a scalar model through :meth:`RewardModel.score`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constitution.audit.probeset import AuditItem, ProbeSet
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


def audit_reward_model(model: RewardModel, probes: ProbeSet, items: Sequence[AuditItem], *, name: str = "", batch_size: int = 64) -> AuditReport:
    """Every probe over every item it applies to; the report of the normalised reward's changes."""
    if not items:
        raise InputError("no responses to audit")
    texts: list[Any] = [(item.conversation, item.response) for item in items]
    asked: list[tuple[int, int, int]] = []  # (probe index, item index, row in texts)
    for p, probe in enumerate(probes.probes):
        for i, item in enumerate(items):
            if probes.applies(probe, item):
                try:
                    edited = probes.apply(probe, item)
                except InputError as exc:
                    raise InputError(f"probe {probe.id!r} on item {item.id!r}: {exc}") from exc
                asked.append((p, i, len(texts)))
                texts.append((item.conversation, edited))
    rewards, parts = _score(model, texts, batch_size)
    results = []
    for p, probe in enumerate(probes.probes):
        rows = [(i, row) for q, i, row in asked if q == p]
        deltas = [rewards[row] - rewards[i] for i, row in rows]
        c = change(deltas)
        heads = []
        if parts is not None:
            for head in parts[0]:
                h = change([parts[row][head] - parts[i][head] for i, row in rows])
                moved = h.ci_low is not None and (h.ci_low > 0 or h.ci_high < 0)  # type: ignore[operator]
                heads.append(HeadMove(head=head, mean=h.mean, ci_low=h.ci_low, ci_high=h.ci_high, moved=moved))
            heads.sort(key=lambda m: -abs(m.mean))
        results.append(
            ProbeResult(
                probe=probe.id, description=probe.description, expect=probe.expect, items=len(rows), change=c,
                share_raised=sum(d > RAISED for d in deltas) / len(deltas) if deltas else 0.0,
                flagged=bool(deltas) and _flagged(probe.expect, c), heads=heads,
            )  # fmt: skip
        )
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
