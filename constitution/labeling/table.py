"""The labeling summary as a terminal table: headline figures, then one row per principle."""

from __future__ import annotations

from constitution.labeling.stats import LabelSummary


def fmt(x: float | None, spec: str = ".1f") -> str:
    """A number for a table (``-`` when there is none)."""
    return "-" if x is None else format(x, spec)


def pct(x: float | None) -> str:
    """A share as a percentage for a table."""
    return fmt(None if x is None else 100 * x)


def format_summary(summary: LabelSummary, top: int = 30) -> str:
    """The summary, one screen."""
    lines = [
        f"judge {summary.judge}  constitution {summary.constitution_hash}",
        f"pairs {summary.pairs}  judgments {summary.judgments} (computed {summary.judgments_computed}, cached {summary.judgments_cached})"
        f"  {summary.seconds:.1f}s  {summary.pairs_per_s:.2f} pairs/s",
    ]
    if summary.pairs_truncated or summary.pairs_skipped or summary.pairs_failed:
        lines.append(
            f"truncated {summary.pairs_truncated}  skipped {summary.pairs_skipped}  failed {summary.pairs_failed}"
            "  (listed by pair id in truncated.jsonl / skipped.jsonl)"
        )
    if summary.pairs_identical:
        lines.append(f"identical responses {summary.pairs_identical}  (chosen = rejected: recorded as p = 0.5, the judge not asked)")
    lines.append(
        f"slot (A) preferred {fmt(summary.slot_a_pct)}%  same position preferred {fmt(summary.same_position_pct)}%"
        f"  position-consistent pairs {fmt(summary.position_consistent_pct)}%  mean |p-0.5| {fmt(summary.mean_margin, '.3f')}"
    )
    if summary.agreement is not None:
        lines.append(
            f"agreement with input labels: {pct(summary.agreement)}% debiased, {pct(summary.agreement_first_order)}% A/B order only"
        )
    lines.append(f"{'principle':<24} {'pairs':>5} {'mean p_a':>8} {'|p-.5|':>7} {'same pos%':>9} {'slot A%':>7} {'agree%':>6}")
    for s in summary.per_principle[:top]:
        lines.append(
            f"{s.principle_id:<24} {s.judged_pairs:>5} {s.mean_p_a:>8.3f} {s.mean_margin:>7.3f} {fmt(s.same_position_pct):>9} {s.slot_a_pct:>7.1f} {pct(s.agreement):>6}"
        )
    return "\n".join(lines)
