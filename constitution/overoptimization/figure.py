"""The over-optimisation figure of one RL run: proxy and gold against √(sequence KL) and against the step.

Drawn from the run's folder (:mod:`.rl_run`): ``constitution rl`` writes it as ``OUT/overoptimization.png`` when the
gold monitor ran, and the pipeline report copies it when its folder holds an RL run. Two rows, two columns (x:
√seq-KL to the initial policy, the x of Gao et al.; and the training step):

* top, rewards: the **proxy** (the reward model the policy is trained on) and, where logged, the **gold reward** (a
  gold reward model scored on the same completions). Per logged step, dots are the batch means and the line their
  moving mean over full windows of ``window`` steps. The log's proxy is left out when it is group-normalised (its
  batch mean ≈ 0 at every step: ``--aggregation normalize_then_sum``); the monitor's ``proxy_reward`` (the raw
  combined reward, at each gold check) is drawn whenever the checks have it. The proxy lines break at each refresh
  (each reward-model version is its own segment: a refresh changes the proxy's scale, so no mean spans two);
* bottom, the gold monitor's checks: **agreement** (share of pairs of the policy's own completions where the proxy
  prefers what the gold judge prefers), its **upper bound** (the alarm's one-sided confidence bound: the alarm fires
  when it is below the threshold) and the **gold win rate** (greedy policy against the initial policy, judged by the
  gold) where measured;
* red vertical lines: the checks that alarmed; green dotted lines: refreshes of the reward model, marked with the
  version they made.

A series is smoothed only when it is dense (at least ``DENSE`` windows of points in a segment); sparser ones (the
checks, usually) are drawn as their raw points joined. :func:`figure_lines` returns exactly what is plotted.
Without a logged KL (β = 0) the √KL panels say so; a run with no gold check says "no gold monitor", one whose
checks all lacked decisive pairs says so. Nothing is drawn (None; :func:`why_not_drawn` says why) without
matplotlib or without a logged step or check.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from constitution.overoptimization.early_warning import moving_mean
from constitution.overoptimization.rl_run import RLRun, read_rl_run

FIGURE_NAME = "overoptimization.png"
DENSE = 3  # a segment of at least DENSE × window points is smoothed
NORMALISED = 1e-6  # a logged proxy whose batch means all lie within this of 0 is group-normalised

Point = tuple[float, float]


class Line(BaseModel):
    """One plotted series: its panel, its segments (each drawn as a line) and its raw points drawn as dots (only
    when the segments are smoothed)."""

    label: str
    color: str
    panel: Literal["reward", "check"]
    segments: list[list[Point]]
    dots: list[Point] = []


def _sqrt_kl(value: float | None) -> float | None:
    return None if value is None else math.sqrt(max(value, 0.0))


def _line(label: str, color: str, panel: str, x: list, y: list, group: list[int], window: int) -> Line | None:
    """The points with both x and y, split where ``group`` changes; each segment smoothed when dense."""
    points = [(a, b, g) for a, b, g in zip(x, y, group) if a is not None and b is not None]
    if not points:
        return None
    parts: list[list[Point]] = []
    for i, (a, b, g) in enumerate(points):
        if i == 0 or g != points[i - 1][2]:
            parts.append([])
        parts[-1].append((a, b))
    smoothed = any(len(p) >= DENSE * window for p in parts)
    segments = [
        list(zip(moving_mean([a for a, _ in p], window), moving_mean([b for _, b in p], window))) if len(p) >= DENSE * window else p
        for p in parts
    ]  # fmt: skip
    segments = [[(float(a), float(b)) for a, b in s] for s in segments]
    return Line(label=label, color=color, panel=panel, segments=segments, dots=[(a, b) for a, b, _ in points] if smoothed else [])


def log_proxy_normalised(run: RLRun) -> bool:
    """Whether the log's proxy is group-normalised (every batch mean ≈ 0)."""
    values = [r.proxy for r in run.steps if r.proxy is not None]
    return bool(values) and all(abs(v) < NORMALISED for v in values)


def figure_lines(run: RLRun, by_kl: bool, window: int = 5) -> list[Line]:
    """The lines of one column of the figure (x: √seq-KL, else the step), as plotted."""
    steps, checks = run.steps, run.checks
    x = [_sqrt_kl(r.seq_kl) for r in steps] if by_kl else [r.step for r in steps]
    cx = [_sqrt_kl(run.check_seq_kl(c)) for c in checks] if by_kl else [c.step for c in checks]
    step_version = [run.version_at(r.step) for r in steps]
    check_version = [c.reward_version for c in checks]
    one = [0] * len(checks)
    lines = [
        None if log_proxy_normalised(run) else _line(f"proxy ({run.proxy_key})", "#4c72b0", "reward", x, [r.proxy for r in steps], step_version, window),
        _line("proxy (monitor: raw combined reward)", "#1f3b73", "reward", cx, [c.proxy_reward for c in checks], check_version, window),
        _line("gold reward", "#dd8452", "reward", x, [r.gold for r in steps], [0] * len(steps), window),
        _line("proxy–gold agreement", "#55a868", "check", cx, [c.agreement for c in checks], one, window),
        _line("agreement upper bound", "#8c8c8c", "check", cx, [c.agreement_upper for c in checks], one, window),
        _line("gold win rate vs initial policy", "#8172b3", "check", cx, [c.gold_win_rate for c in checks], one, window),
    ]  # fmt: skip
    return [line for line in lines if line is not None]


def check_panel_note(run: RLRun) -> str | None:
    """What the check panel says when it has no agreement to draw."""
    if not run.checks:
        return "no gold monitor"
    if all(c.agreement is None for c in run.checks):
        return "no gold check had decisive pairs (every check failed or tied)"
    return None


def _marks(ax, run: RLRun, by_kl: bool) -> None:
    """Alarms (red) and refreshes (green, dotted, with the version) as vertical lines."""
    for check in run.checks:
        x = _sqrt_kl(run.check_seq_kl(check)) if by_kl else check.step
        if x is None:
            continue
        if check.alarm:
            ax.axvline(x, color="#c44e52", lw=1, alpha=0.7)
        if check.refreshed_to is not None:
            ax.axvline(x, color="#55a868", lw=1.2, ls=":")
            ax.annotate(f"v{check.refreshed_to}", (x, 1), xycoords=("data", "axes fraction"), fontsize=7, color="#55a868", va="top")


def _draw(ax, line: Line) -> None:
    if line.dots:
        ax.plot([a for a, _ in line.dots], [b for _, b in line.dots], ".", color=line.color, alpha=0.35)
    for i, segment in enumerate(line.segments):
        style = "-" if line.dots else ".-"
        ax.plot([a for a, _ in segment], [b for _, b in segment], style, color=line.color, label=line.label if i == 0 else None)


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def why_not_drawn(folder: str | Path) -> str:
    """Why :func:`draw_overoptimization` drew nothing for ``folder``."""
    if _matplotlib() is None:
        return "needs matplotlib"
    return f"nothing logged in {folder} (no step in log.jsonl and no gold check in monitor.jsonl)"


def draw_overoptimization(folder: str | Path, path: str | Path | None = None, window: int = 5) -> Path | None:
    """Draw the figure of the RL run in ``folder`` into ``path`` (default ``folder/overoptimization.png``); None when
    matplotlib is missing or the folder has no logged step and no gold check (:func:`why_not_drawn`)."""
    plt = _matplotlib()
    run = read_rl_run(folder)
    if plt is None or run is None or not (run.steps or run.checks):
        return None
    path = Path(path) if path is not None else Path(folder) / FIGURE_NAME
    no_kl = all(r.seq_kl is None for r in run.steps) and all(run.check_seq_kl(c) is None for c in run.checks)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex="col")
    for column, by_kl in enumerate((True, False)):
        panels = {"reward": axes[0][column], "check": axes[1][column]}
        if by_kl and no_kl:
            for ax in panels.values():
                ax.text(0.5, 0.5, "no KL logged (β = 0)", ha="center", va="center", transform=ax.transAxes)
        for line in figure_lines(run, by_kl, window):
            _draw(panels[line.panel], line)
        for ax in panels.values():
            _marks(ax, run, by_kl)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
        panels["check"].set_xlabel("√(sequence KL to the initial policy)" if by_kl else "step")
    axes[0][0].set_ylabel("reward (batch mean)")
    axes[1][0].set_ylabel("gold check")
    note = check_panel_note(run)
    if note:
        axes[1][1].text(0.5, 0.5, note, ha="center", va="center", transform=axes[1][1].transAxes)
    fig.suptitle(f"Over-optimisation: {Path(folder).name} (red: alarms; green dotted: refreshes)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
