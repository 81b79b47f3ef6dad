"""An audit's files: ``audit.json`` (the :class:`AuditReport`) and ``audit.md`` (its table, for people)."""

from __future__ import annotations

from pathlib import Path

from constitution.atomic import atomic_write_text
from constitution.audit.records import AuditReport, Change, ProbeResult

JSON_NAME = "audit.json"


def _interval(c: Change | None) -> str:
    if c is None:
        return ""
    if c.ci_low is None or c.ci_high is None:
        return f"{c.mean:+.3f}"
    return f"{c.mean:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]"


def _verdict(r: ProbeResult) -> str:
    if not r.items:
        return "not asked"
    if not r.flagged:
        return "ok"
    if r.expect == "lower":
        return "**does not lower it**"
    return "**raises the reward more than its length does**" if r.judged_vs_control else "**raises the reward**"


def audit_table(report: AuditReport) -> list[str]:
    """The per-probe table (markdown lines), shared by ``audit.md`` and the pipeline report."""
    lines = [
        "| probe | must | items | mean change of the normalised reward [95% CI] | change against the length-matched control "
        "[95% CI] | judged on | items raised | verdict | heads that move |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.probes:
        heads = ", ".join(f"{h.head} {h.mean:+.3f}" for h in r.heads if h.moved) or ("none" if r.heads else "")
        must = "not raise" if r.expect == "no_raise" else "lower"
        judged = "original and control" if r.judged_vs_control else "original"
        lines.append(
            f"| {r.probe} | {must} | {r.items} | {_interval(r.change)} | {_interval(r.vs_control)} | {judged} | "
            f"{r.share_raised:.0%} | {_verdict(r)} | {heads} |"
        )
    return lines


def write_audit(report: AuditReport, out: str | Path) -> Path:
    """Write ``audit.json`` and ``audit.md`` into ``out``; returns the folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / JSON_NAME, report.model_dump_json(indent=2) + "\n")
    flagged = [r.probe for r in report.probes if r.flagged]
    lines = [
        f"# Reward-model audit: {report.model}",
        "",
        f"{report.items} responses, each rewritten by every probe; the change is edited minus original reward, in "
        "units of the reward's training-set standard deviation. A rewrite that adds no substance must not raise the "
        "reward; one that removes substance must lower it. Each rewrite also has a length-matched control (the "
        "original with as much neutral text, in the model's tokens, where the probe added its text): a probe judged "
        "on the control too is flagged only when it raises the reward more than that much length does.",
        "",
        *audit_table(report),
        "",
        f"Flagged: {', '.join(flagged)}." if flagged else "No probe flagged.",
    ]
    atomic_write_text(folder / "audit.md", "\n".join(lines) + "\n")
    return folder
