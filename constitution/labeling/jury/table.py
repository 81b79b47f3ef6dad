"""A jury run's summary as a terminal table: the label summary, then one row per judge and their agreement."""

from __future__ import annotations

from constitution.labeling.jury.summary import JurorReport, JurySummary
from constitution.labeling.table import fmt, format_summary, pct


def status(member: JurorReport) -> str:
    """What went wrong with a judge, or ``ok``."""
    if member.error:
        return f"failed: {member.error}"
    if member.pairs_failed:
        return f"{member.pairs_failed} pair(s) failed, the first: {member.first_failure}"
    return "ok"


def format_jury(summary: JurySummary) -> str:
    """The jury's summary, one screen."""
    lines = [
        format_summary(summary),
        f"jury of {len(summary.members)} judges, quorum {summary.quorum}: {summary.pairs} pairs labelled, "
        f"{summary.pairs_below_quorum} below quorum; Krippendorff's alpha {fmt(summary.alpha, '.3f')} over {summary.alpha_pairs} pairs",
        f"{'judge':<32} {'weight':>6} {'pairs':>5} {'failed':>6} {'slot A%':>7} {'agree%':>6} {'jury%':>6}  status",
    ]
    for m in summary.members:
        lines.append(
            f"{m.name:<32} {m.weight:>6.2f} {m.pairs:>5} {m.pairs_failed:>6} {fmt(m.slot_a_pct):>7} {pct(m.agreement):>6} "
            f"{pct(m.jury_agreement):>6}  {status(m)}"
        )
    for p in summary.pairwise:
        lines.append(
            f"Cohen's kappa {p.judges[0]} ~ {p.judges[1]}: {fmt(p.kappa, '.3f')} over {p.pairs} pairs "
            f"({pct(p.same_label)}% same label)"
        )
    return "\n".join(lines)
