"""A diff's outputs: a terminal summary, ``diff.json``, and ``diff.md`` with a plot of |Δp| (``diff_dp.png``), each
written atomically. :func:`diff_markdown` also renders the pipeline report's "Since the last run" section.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from constitution.atomic import atomic_path, atomic_write_text
from constitution.diff.labels import LabelDiff, PairMove
from constitution.diff.rewards import RewardDiff
from constitution.diff.run import DiffReport
from constitution.diff.spec import SpecDiff

PLOT = "diff_dp.png"


def _clip(text: str | None, width: int = 90) -> str:
    return "–" if text is None else textwrap.shorten(" ".join(text.split()), width=width, placeholder=" …")


def _cell(text: str | None, width: int = 90) -> str:
    return _clip(text, width).replace("|", "\\|")


def _num(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def _arrow(old: float | None, new: float | None, spec: str = ".3f") -> str:
    return _num(old, spec) if old == new else f"{_num(old, spec)} → {_num(new, spec)}"


def spec_lines(spec: SpecDiff) -> list[tuple[str, list[str]]]:
    """One line per difference in the constitution, each with detail lines (a reworded principle's full texts)."""
    if spec.unchanged:
        return [("no change (same constitution hash)", [])]
    lines: list[tuple[str, list[str]]] = []
    for e in spec.principles:
        head = f"{e.id}: {', '.join(e.changes)}; weight {_arrow(e.weight_old, e.weight_new, 'g')}"
        if "template" in e.changes:
            head += f"; template {e.template_old or 'default'} → {e.template_new or 'default'}"
        if e.rejudged:
            head += " (judged anew)"
        if "reworded" in e.changes:
            details = [f"before: {e.text_old}", f"after: {e.text_new}"]
        else:
            details = [f"text: {e.text_new or e.text_old}"] if {"added", "removed"} & set(e.changes) else []
        lines.append((head, details))
    for f in [*spec.templates, *([spec.sampling] if spec.sampling else []), *spec.safety_policy, *spec.other]:
        lines.append((f"{f.what}: {_clip(str(f.old), 70)} → {_clip(str(f.new), 70)}", []))
    return lines


def _label_headline(labels: LabelDiff) -> str:
    share = f" ({100 * labels.flipped / labels.pairs:.1f}%)" if labels.pairs else ""
    text = f"{labels.pairs} pairs, {labels.flipped} labels flipped{share}: {labels.flipped_to_a} to A, {labels.flipped_to_b} to B"
    d = labels.delta
    if d is not None:
        text += f"; |Δp| mean {d.mean:.4f}, median {d.median:.4f}, p90 {d.p90:.4f}, max {d.max:.4f}"
    if labels.only_old or labels.only_new:
        text += f"; labelled on one side only: {len(labels.only_old)} before, {len(labels.only_new)} after"
    return text


def _flipped_ids(labels: LabelDiff, most: int = 20) -> str:
    shown = ", ".join(f"`{pid}`" for pid in labels.flipped_ids[:most])
    return shown + (f" and {labels.flipped - most} more (all in diff.json)" if labels.flipped > most else "")


def _cost_line(report: DiffReport) -> str | None:
    if report.cost_old is None or report.cost_new is None:
        return None
    o, n = report.cost_old, report.cost_new
    return (
        f"judgments: old {o.judgments} ({o.computed} asked, {o.cached} cached, {o.seconds:.1f}s); "
        f"new {n.judgments} ({n.computed} asked, {n.cached} cached, {n.seconds:.1f}s)"
    )


def _reward_lines(r: RewardDiff) -> list[str]:
    lines = [
        f"rewards ({r.model}, {len(r.heads)} heads): {r.responses} responses, mean |Δr| {r.mean_abs_delta:.4f}, "
        f"{r.preference_flips} pairs prefer the other response now; {len(r.safety_changed)} safety decisions changed "
        f"at threshold {r.threshold:.3f}"
    ]
    if r.principles_without_head:
        lines.append(f"principles without a head (not in the reward): {', '.join(r.principles_without_head)}")
    return lines


def format_diff(report: DiffReport, top: int = 5) -> str:
    """The terminal summary."""
    spec, labels = report.spec, report.labels
    lines = [f"constitution diff: {report.old} ({spec.old_hash}) → {report.new} ({spec.new_hash})", "changes:"]
    for head, details in spec_lines(spec):
        lines += [f"  {head}", *(f"      {d}" for d in details)]
    lines.append("labels: " + _label_headline(labels))
    if cost := _cost_line(report):
        lines.append(cost)
    effects = [e for e in labels.per_principle if e.changed]
    if effects:
        lines.append(f"{'principle':<24} {'weight':>13} {'pairs':>11} {'mean P(A)':>15} {'mean|Δ|':>8} {'verdict flips':>13} {'label flips':>11}")
        for e in effects:
            lines.append(
                f"{e.id:<24} {_arrow(e.weight_old, e.weight_new, 'g'):>13} {e.pairs_old:>5}→{e.pairs_new:<5} "
                f"{_arrow(e.mean_p_old, e.mean_p_new):>15} {_num(e.mean_abs_delta, '.4f'):>8} {e.verdict_flips:>13} {e.label_flips:>11}"
            )
    for m in labels.moved_most[:top]:
        lines.append(f"  pair {m.id}: P(A) {m.p_old:.3f} → {m.p_new:.3f}{' FLIPPED' if m.flipped else ''}  {_clip(m.prompt, 70)}")
    if report.rewards is not None:
        lines += _reward_lines(report.rewards)
    return "\n".join(lines)


def _pair_lines(m: PairMove, h: str) -> list[str]:
    lines = [
        f"{h} Pair `{m.id}`: P(A) {m.p_old:.3f} → {m.p_new:.3f}{' · label flipped' if m.flipped else ''}",
        "",
        f"- prompt: {_clip(m.prompt, 200)}",
        f"- A: {_clip(m.response_a, 200)}",
        f"- B: {_clip(m.response_b, 200)}",
        "",
        "| principle | weight | P(A) | text before | text after |",
        "|---|---|---|---|---|",
    ]
    for v in sorted(m.principles, key=lambda v: not v.changed):
        after = "same" if v.text_new == v.text_old else _cell(v.text_new)
        lines.append(f"| {v.id} | {_arrow(v.weight_old, v.weight_new, 'g')} | {_arrow(v.p_old, v.p_new)} | {_cell(v.text_old)} | {after} |")
    return lines + [""]


def diff_markdown(report: DiffReport, plot: str | None = PLOT, level: int = 1, title: str | None = None) -> str:
    """The diff as Markdown: ``title`` (default: the two versions) at heading ``level``, the plot linked as ``plot``."""
    h, h2, h3 = "#" * level, "#" * (level + 1), "#" * (level + 2)
    spec, labels = report.spec, report.labels
    lines = [
        f"{h} {title or f'Constitution diff: `{report.old}` → `{report.new}`'}",
        "",
        f"Constitution `{spec.old_hash}` → `{spec.new_hash}`" + (f", judge `{report.judge}`." if report.judge else "."),
        "",
        f"{h2} What changed in the constitution",
        "",
        *(line for head, details in spec_lines(spec) for line in [f"- {head}", *(f"  - {d}" for d in details)]),
        "",
        f"{h2} Effect on the labels",
        "",
        f"- {_label_headline(labels)}",
        *([f"- flipped: {_flipped_ids(labels)}"] if labels.flipped else []),
        *([f"- {cost}"] if (cost := _cost_line(report)) else []),
        "",
    ]
    if plot and labels.delta is not None:
        lines += [f"![|Δp|]({plot})", ""]
    if labels.delta is not None:
        lines += ["| \\|Δp\\| | pairs |", "|---|---|"]
        lines += [f"| {b.low:g}–{b.high:g} | {b.pairs} |" for b in labels.delta.histogram]
        lines.append("")
    effects = [e for e in labels.per_principle if e.changed]
    lines += [f"{h3} Per principle", ""]
    if effects:
        lines += [
            "| principle | weight | pairs | mean P(A) | mean \\|Δ\\| | verdict flips | label flips |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {e.id} | {_arrow(e.weight_old, e.weight_new, 'g')} | {e.pairs_old} → {e.pairs_new} | "
                f"{_arrow(e.mean_p_old, e.mean_p_new)} | {_num(e.mean_abs_delta, '.4f')} | {e.verdict_flips} | {e.label_flips} |"
                for e in effects
            ),
        ]
    lines += ["", f"{len(labels.per_principle) - len(effects)} principle(s) unchanged in every pair.", ""]
    lines += [f"{h3} Pairs that moved most", ""]
    for m in labels.moved_most:
        lines += _pair_lines(m, "#" * (level + 3))
    if not labels.moved_most:
        lines += ["No label moved.", ""]
    if report.rewards is not None:
        r = report.rewards
        lines += [f"{h2} Rewards", "", *(f"- {x}" for x in _reward_lines(r)), "",
                  "| pair | response | reward | unsafe score | text |", "|---|---|---|---|---|"]  # fmt: skip
        for m in [*r.moved_most, *(m for m in r.safety_changed if m not in r.moved_most)]:
            lines.append(f"| {_cell(m.pair_id)} | {m.response} | {_arrow(m.reward_old, m.reward_new)} | {_arrow(m.unsafe_old, m.unsafe_new)} | {_cell(m.text, 120)} |")
        lines.append("")
    return "\n".join(lines)


def dp_plot(labels: LabelDiff, path: Path) -> Path:
    """|Δp| histogram and P(A) before vs after (flipped labels in red), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    old = np.asarray([p.p_old for p in labels.per_pair])
    new = np.asarray([p.p_new for p in labels.per_pair])
    flipped = (old >= 0.5) != (new >= 0.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(np.abs(new - old), bins=30, color="#4c72b0")
    left.set_xlabel("|Δ P(A preferred)|")
    left.set_ylabel("pairs")
    left.set_yscale("symlog")
    right.scatter(old[~flipped], new[~flipped], s=8, color="#4c72b0", label="same label")
    right.scatter(old[flipped], new[flipped], s=12, color="#c44e52", label="flipped")
    right.plot([0, 1], [0, 1], color="grey", lw=1)
    right.axhline(0.5, color="grey", lw=0.5)
    right.axvline(0.5, color="grey", lw=0.5)
    right.set(xlim=(0, 1), ylim=(0, 1), xlabel="P(A) before", ylabel="P(A) after")
    right.legend(loc="upper left")
    fig.suptitle(f"{labels.pairs} pairs, {labels.flipped} labels flipped")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_diff(report: DiffReport, out: str | Path) -> list[Path]:
    """``diff.json``, ``diff.md`` and the plot into ``out``; the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic_write_text(out / "diff.json", report.model_dump_json(indent=2) + "\n")]
    if report.labels.per_pair:
        written.append(dp_plot(report.labels, out / PLOT))
    written.append(atomic_write_text(out / "diff.md", diff_markdown(report, PLOT if report.labels.per_pair else None) + "\n"))
    return written
