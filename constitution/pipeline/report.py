"""The run report: ``report.md`` with PNG plots, and a one-screen summary on the terminal.

Made to answer at a glance: are the labels sane (per-principle means, position bias, principles agreeing), and is
the reward model sane (chosen above rejected, calibrated, not just rewarding length)?

The pipeline does not run RL; when the run folder holds an RL run of its reward model in ``rl/`` (``constitution rl
--reward-model RUN/model --out RUN/rl``), the report adds its over-optimisation figure (proxy and gold against
√sequence-KL and the step, alarms and refreshes marked) and the gold checks' alarms and refreshes; a run cut short
with only its ``monitor.jsonl`` is shown too, and without matplotlib the section keeps its text and says the figure
needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from constitution.atomic import atomic_write_text
from constitution.audit import AuditReport, audit_table
from constitution.data.records import FeedbackRecord
from constitution.diff.report import diff_markdown, dp_plot
from constitution.diff.snapshot import diff_folders
from constitution.errors import InputError
from constitution.labeling.jury.summary import JurySummary
from constitution.labeling.stats import LabelSummary, PrincipleStats
from constitution.overoptimization.figure import FIGURE_NAME, draw_overoptimization, log_proxy_normalised, why_not_drawn
from constitution.overoptimization.rl_run import read_rl_run
from constitution.pipeline.records import EVAL_FILE, ScoredSet, read_summary
from constitution.pipeline.stages import StageRecord
from constitution.reward.reports import HeadsReport


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _principle_plot(per_principle: list[PrincipleStats], path: Path) -> None:
    plt = _plt()
    ids = [p.principle_id for p in per_principle]
    fig, axes = plt.subplots(1, 2, figsize=(11, max(3, 0.28 * len(ids) + 1)), sharey=True)
    axes[0].barh(ids, [p.mean_p_a for p in per_principle], color="#4c72b0")
    axes[0].axvline(0.5, color="grey", lw=1)
    axes[0].set_xlim(0, 1)
    axes[0].set_xlabel("mean P(A preferred), debiased")
    axes[1].barh(ids, [p.same_position_pct or 0 for p in per_principle], color="#dd8452")
    axes[1].set_xlabel("% same position preferred (both orders)")
    axes[1].set_xlim(0, 100)
    fig.suptitle("Labels per principle")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _reward_plot(evals: dict[str, ScoredSet], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, len(evals), figsize=(5.5 * len(evals), 3.6), squeeze=False)
    for ax, (name, d) in zip(axes[0], evals.items()):
        chosen, rejected = np.asarray(d.chosen_rewards), np.asarray(d.rejected_rewards)
        bins = np.linspace(min(chosen.min(), rejected.min()), max(chosen.max(), rejected.max()), 25)
        ax.hist(chosen, bins=bins, alpha=0.6, label="chosen", color="#55a868")
        ax.hist(rejected, bins=bins, alpha=0.6, label="rejected", color="#c44e52")
        ax.set_title(f"{name}: normalised rewards")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def _first_records(labels: Path, n: int) -> list[FeedbackRecord]:
    records = []
    with open(labels, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                records.append(FeedbackRecord.model_validate_json(line))
            if len(records) >= n:
                break
    return records


def since_last_run(run_dir: Path, labels_dir: Path, plots: Path, state: dict[str, StageRecord]) -> list[str]:
    """The "Since the last run" section: what the edit of the constitution changed in the labels, when this run
    relabelled under a different constitution (``previous/`` holds the labels before it); else nothing."""
    label = state.get("label")
    try:
        report = None if label is None or label.reused else diff_folders(run_dir / "previous", labels_dir)
    except InputError as error:  # e.g. a pair id used twice: the labels cannot be matched, the run is still good
        return ["## Since the last run", "", f"Not compared: {error}", ""]
    if report is None:
        return []
    if report.labels.per_pair:
        dp_plot(report.labels, plots / "since_last_run.png")
    plot = "plots/since_last_run.png" if report.labels.per_pair else None
    return [*diff_markdown(report, plot, level=2, title="Since the last run").splitlines(), ""]


def write_report(run_dir: Path, labels_dir: Path, eval_dir: Path, state: dict[str, StageRecord]) -> tuple[dict[str, Any], str]:
    """Write ``report.md`` and its plots into ``run_dir`` from the label and eval outputs and the stage timings;
    return the headline figures and the one-screen summary."""
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    summary = read_summary(labels_dir / "summary.json")
    records = _first_records(labels_dir / "labels.jsonl", 4)
    evals = EVAL_FILE.validate_json((eval_dir / "eval.json").read_text())
    _principle_plot(summary.per_principle, plots / "principles.png")
    _reward_plot(evals, plots / "rewards.png")
    for name in evals:
        src = eval_dir / f"reliability_{name}.png"
        if src.exists():
            (plots / src.name).write_bytes(src.read_bytes())

    disagreement = summary.principle_disagreement
    headline: dict[str, Any] = {
        "pairs_labeled": summary.pairs,
        "label_pairs_per_s": summary.pairs_per_s,
        "same_position_pct": summary.same_position_pct,
        "slot_a_pct": summary.slot_a_pct,
        "mean_margin": summary.mean_margin,
        "principle_disagreement": disagreement,
        "label_agreement_with_input": summary.agreement,
    }
    for name, d in evals.items():
        headline[f"rm_{name}_accuracy"] = d.report.accuracy
        headline[f"rm_{name}_ece"] = d.report.ece
    audit = read_audit(run_dir)
    if audit is not None:
        headline["audit_flagged"] = [r.probe for r in audit.probes if r.flagged]

    warnings = []
    if (summary.mean_margin or 0) < 0.05:
        warnings.append("labels sit close to 0.5 (mean |p-0.5| < 0.05): the judge barely separates the responses")
    if (summary.same_position_pct or 0) > 40:
        warnings.append(f"the judge preferred the same slot in both orders {summary.same_position_pct:.0f}% of the time: strong position bias (debiasing averages it out, leaving weak labels)")
    ai = evals["ai_test"].report.accuracy if "ai_test" in evals else None
    if ai is not None and ai < 0.55:
        warnings.append("the reward model barely beats chance on held-out AI labels")

    lines = [
        f"# Run report: `{run_dir}`",
        "",
        f"Constitution `{summary.constitution_hash}`, judge `{summary.judge}`, {summary.pairs} pairs labeled.",
        "",
        "## Sanity at a glance",
        "",
        *(f"- ⚠ {w}" for w in warnings),
        *([] if warnings else ["- no warnings"]),
        "",
        "| figure | value |",
        "|---|---|",
        f"| judgments (computed / cached) | {summary.judgments_computed} / {summary.judgments_cached} |",
        f"| pairs truncated / skipped / failed (see `labels/truncated.jsonl`, `labels/skipped.jsonl`) | "
        f"{summary.pairs_truncated} / {summary.pairs_skipped} / {summary.pairs_failed} |",
        f"| slot (A) preferred, single order | {_fmt(summary.slot_a_pct, '.1f')}% |",
        f"| same position preferred in both orders | {_fmt(summary.same_position_pct, '.1f')}% |",
        f"| mean \\|p − 0.5\\| after debiasing | {_fmt(summary.mean_margin)} |",
        f"| principles disagreeing (share of principle pairs) | {_fmt(disagreement)} |",
        f"| label agreement with the input's labels | {_fmt(summary.agreement)} |",
    ]
    for name, d in evals.items():
        r = d.report
        lines.append(f"| reward model accuracy, {name} ({r.n} pairs) | {_fmt(r.accuracy)} (ECE {_fmt(r.ece)}) |")
    lines += ["", *since_last_run(run_dir, labels_dir, plots, state)]
    lines += [
        "## Labels per principle",
        "",
        "![principles](plots/principles.png)",
        "",
        "| principle | pairs | mean p_a | mean \\|p−0.5\\| | same position % | slot A % |",
        "|---|---|---|---|---|---|",
        *(
            f"| {p.principle_id} | {p.judged_pairs} | {p.mean_p_a:.3f} | {p.mean_margin:.3f} | {_fmt(p.same_position_pct, '.1f')} | {p.slot_a_pct:.1f} |"
            for p in summary.per_principle
        ),
        "",
        "## Reward model",
        "",
        "![rewards](plots/rewards.png)",
        "",
    ]
    for name, d in evals.items():
        r = d.report
        lines += [
            f"### {name}",
            "",
            f"![calibration](plots/reliability_{name}.png)",
            "",
            f"- accuracy {_fmt(r.accuracy)}, ECE {_fmt(r.ece)}, NLL {_fmt(r.nll)}",
            f"- length bias: accuracy when the chosen response is longer {_fmt(r.accuracy_chosen_longer.accuracy)} "
            f"({r.accuracy_chosen_longer.n} pairs), shorter {_fmt(r.accuracy_chosen_shorter.accuracy)} "
            f"({r.accuracy_chosen_shorter.n} pairs); within pairs, the reward difference follows the length difference "
            f"with correlation {_fmt(r.length_diff_corr)}, and the model prefers the longer response in "
            f"{_fmt(r.prefers_longer)} of {r.length_bias_pairs} pairs (the labels: {_fmt(r.label_prefers_longer)})",
            "",
        ]
    lines += heads_section(eval_dir)
    lines += jury_section(summary)
    lines += audit_section(audit)
    lines += rl_section(run_dir, plots)
    lines += ["## Example pairs", ""]
    for r in records[:4]:
        verdicts = ", ".join(f"{pid} {p:.2f}" for pid, p in sorted(r.per_principle.items()))
        lines += [
            f"- **{r.id}** · prompt: {_short(r.prompt[-1].content if r.prompt else '')}",
            f"  - A: {_short(r.response_a)}",
            f"  - B: {_short(r.response_b)}",
            f"  - p_a = {r.p_a:.3f} (position-consistent: {r.position_consistent}); per principle: {verdicts}",
        ]
    lines += ["", "## Timings", "", "| stage | seconds | reused |", "|---|---|---|"]
    lines += [f"| {name} | {rec.seconds:.1f} | {rec.reused} |" for name, rec in state.items() if name != "report"]
    atomic_write_text(run_dir / "report.md", "\n".join(lines) + "\n")

    screen = [
        f"== {run_dir}/report.md ==",
        f"labels: {summary.pairs} pairs, {summary.judgments_computed} judgments computed / {summary.judgments_cached} cached, "
        f"{summary.pairs_per_s:.2f} pairs/s",
        f"position bias: slot A {_fmt(summary.slot_a_pct, '.1f')}%, same position {_fmt(summary.same_position_pct, '.1f')}%; "
        f"mean |p-0.5| {_fmt(summary.mean_margin)}; principle disagreement {_fmt(disagreement)}",
    ]
    screen += [f"reward model on {name}: accuracy {_fmt(d.report.accuracy)}, ECE {_fmt(d.report.ece)}" for name, d in evals.items()]
    if audit is not None:
        screen.append(f"reward audit on {audit.items} responses: {_audit_verdict(audit)}")
    screen += [f"warning: {w}" for w in warnings]
    screen.append("stages: " + ", ".join(f"{n} {r.seconds:.0f}s{' (reused)' if r.reused else ''}" for n, r in state.items() if n != "report"))
    return headline, "\n".join(screen)


def heads_section(eval_dir: Path) -> list[str]:
    """The per-principle model's section (none for a scalar model): each principle's weight, its head's agreement
    with the judge's labels for it on held-out pairs, and its contribution to the reward's decisions."""
    path = eval_dir / "heads.json"
    if not path.exists():
        return []
    heads = HeadsReport.model_validate_json(path.read_text())
    return [
        "## Reward per principle",
        "",
        f"The reward is the constitution-weighted mean of one head per principle; on {heads.pairs} held-out pairs "
        f"it agrees with the ensembled label on {_fmt(heads.accuracy)}. *Agreement*: the head prefers what the "
        "judge's label for that principle prefers. *Contribution*: the principle's mean part of the normalised reward "
        "gap between chosen and rejected (the parts sum to the gap). *Share*: its part of how much the reward moves.",
        "",
        "| principle | weight | judged pairs | head agreement | contribution | share |",
        "|---|---|---|---|---|---|",
        *(
            f"| {p.principle} | {p.weight:.3f} | {p.judged_pairs} | {_fmt(p.agreement)} | {p.contribution:+.3f} | {p.share:.1%} |"
            for p in heads.principles
        ),
        "",
    ]


def rl_section(run_dir: Path, plots: Path) -> list[str]:
    """With an RL run in ``run_dir/rl`` (see the module docstring): its gold checks' alarms and refreshes, and its
    over-optimisation figure drawn into ``plots`` (without matplotlib: the text, and a note that the figure needs
    it); none without an RL run."""
    run = read_rl_run(run_dir / "rl")
    if run is None:
        return []
    drawn = draw_overoptimization(run_dir / "rl", plots / FIGURE_NAME)
    alarms = [c.step for c in run.checks if c.alarm]
    refreshes = [f"v{c.refreshed_to} at step {c.step}" for c in run.checks if c.refreshed_to is not None]
    return [
        "## Reward over-optimisation (RL)",
        "",
        f"`rl/`: {len(run.steps)} logged steps, {len(run.checks)} gold checks; alarms at steps "
        f"{', '.join(map(str, alarms)) or 'none'}; refreshes: {', '.join(refreshes) or 'none'}"
        + (f"; {len(run.skipped)} unreadable lines skipped" if run.skipped else "")
        + ("; the log's proxy is group-normalised (batch mean 0), the figure draws the monitor's raw proxy" if log_proxy_normalised(run) else "")
        + ".",
        "",
        f"![over-optimisation](plots/{FIGURE_NAME})" if drawn is not None else f"(figure not drawn: {why_not_drawn(run_dir / 'rl')})",
        "",
    ]


def read_audit(run_dir: Path) -> AuditReport | None:
    """The run's reward audit (its ``audit`` stage, or ``constitution audit RM --out RUN/audit``), if it has one."""
    path = run_dir / "audit" / "audit.json"
    return AuditReport.model_validate_json(path.read_text()) if path.exists() else None


def _audit_verdict(report: AuditReport) -> str:
    flagged = [r.probe for r in report.probes if r.flagged]
    return f"flagged: {', '.join(flagged)}" if flagged else "no probe flagged"


def audit_section(report: AuditReport | None) -> list[str]:
    """The reward audit's section (none without an audit)."""
    if report is None:
        return []
    return [
        "## Reward audit",
        "",
        f"Counterfactual probes on {report.items} responses ({_audit_verdict(report)}; see `audit/audit.md`).",
        "",
        *audit_table(report),
        "",
    ]


def jury_section(summary: LabelSummary) -> list[str]:
    """With a jury (``judges:``): each judge's weight, work, position bias and agreement, and their agreement."""
    if not isinstance(summary, JurySummary) or not summary.members:
        return []
    lines = [
        "## Jury",
        "",
        f"Quorum {summary.quorum}; {summary.pairs_below_quorum} pairs below it. Krippendorff's α "
        f"{_fmt(summary.alpha)} over {summary.alpha_pairs} pairs.",
        "",
        "| judge | weight | pairs | failed | slot A % | agreement with input | agreement with jury | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in summary.members:
        status = m.error or ("ok" if not m.pairs_failed else "some judgments failed")
        lines.append(
            f"| {m.name} | {m.weight:.2f} | {m.pairs} | {m.pairs_failed} | {_fmt(m.slot_a_pct, '.1f')} "
            f"| {_fmt(m.agreement)} | {_fmt(m.jury_agreement)} | {status} |"
        )
    lines += ["", "| judges | pairs | same label | Cohen's κ |", "|---|---|---|---|"]
    lines += [
        f"| {p.judges[0]} ~ {p.judges[1]} | {p.pairs} | {_fmt(p.same_label)} | {_fmt(p.kappa)} |"
        for p in summary.pairwise
    ]
    return [*lines, ""]
