"""The over-optimisation figure of one RL run: proxy and gold against √(sequence KL) and against the step.

Drawn from the run's folder (:mod:`.rl_run`): ``constitution rl`` writes it as ``OUT/overoptimization.png`` when the
gold monitor ran, and the pipeline report copies it when its folder holds an RL run. Two rows, two columns (x:
√seq-KL to the initial policy, the x of Gao et al.; and the training step):

* top, rewards per step (dots: each step's batch mean; line: centred moving mean over ``window`` steps): the
  **proxy** (the reward model the policy is trained on) and, where logged, the **gold reward** (a gold reward model
  scored on the same completions);
* bottom, the gold monitor's checks: **agreement** (share of pairs of the policy's own completions where the proxy
  prefers what the gold judge prefers), its **upper bound** (the alarm's one-sided confidence bound: the alarm fires
  when it is below the threshold) and the **gold win rate** (greedy policy against the initial policy, judged by the
  gold) where measured;
* red vertical lines: the checks that alarmed; green dotted lines: refreshes of the reward model, marked with the
  version they made.

Without a logged KL (β = 0) the √KL panels say so; without matplotlib nothing is drawn (None).
"""

from __future__ import annotations

import math
from pathlib import Path

from constitution.overoptimization.early_warning import moving_mean
from constitution.overoptimization.rl_run import RLRun, read_rl_run

FIGURE_NAME = "overoptimization.png"


def _sqrt_kl(value: float | None) -> float | None:
    return None if value is None else math.sqrt(max(value, 0.0))


def _series(ax, x: list[float | None], y: list[float | None], label: str, color: str, window: int) -> None:
    """Dots for the points that have both x and y, and their moving mean as a line."""
    points = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if not points:
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.plot(xs, ys, ".", color=color, alpha=0.35)
    ax.plot(moving_mean(xs, window), moving_mean(ys, window), "-", color=color, label=label)


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


def draw_overoptimization(folder: str | Path, path: str | Path | None = None, window: int = 5) -> Path | None:
    """Draw the figure of the RL run in ``folder`` into ``path`` (default ``folder/overoptimization.png``); None when
    matplotlib is missing or the folder has no logged step."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    run = read_rl_run(folder)
    if run is None or not run.steps:
        return None
    path = Path(path) if path is not None else Path(folder) / FIGURE_NAME
    steps = [r.step for r in run.steps]
    kl = [_sqrt_kl(r.seq_kl) for r in run.steps]
    checks = run.checks
    check_kl = [_sqrt_kl(run.check_seq_kl(c)) for c in checks]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex="col")
    for column, by_kl in enumerate((True, False)):
        top, bottom = axes[0][column], axes[1][column]
        x = kl if by_kl else steps
        cx = check_kl if by_kl else [c.step for c in checks]
        if by_kl and all(v is None for v in kl):
            for ax in (top, bottom):
                ax.text(0.5, 0.5, "no KL logged (β = 0)", ha="center", va="center", transform=ax.transAxes)
        _series(top, x, [r.proxy for r in run.steps], f"proxy ({run.proxy_key})", "#4c72b0", window)
        _series(top, x, [r.gold for r in run.steps], "gold reward", "#dd8452", window)
        _series(bottom, cx, [c.agreement for c in checks], "proxy–gold agreement", "#55a868", window)
        _series(bottom, cx, [c.agreement_upper for c in checks], "agreement upper bound", "#8c8c8c", window)
        _series(bottom, cx, [c.gold_win_rate for c in checks], "gold win rate vs initial policy", "#8172b3", window)
        for ax in (top, bottom):
            _marks(ax, run, by_kl)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
        bottom.set_xlabel("√(sequence KL to the initial policy)" if by_kl else "step")
    axes[0][0].set_ylabel("reward (batch mean)")
    axes[1][0].set_ylabel("gold check")
    if all(c.agreement is None for c in checks):
        empty = "no gold monitor" if not checks else "no gold check had decisive pairs"
        axes[1][1].text(0.5, 0.5, empty, ha="center", va="center", transform=axes[1][1].transAxes)
    fig.suptitle(f"Over-optimisation: {Path(folder).name} (red: alarms; green dotted: refreshes)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
