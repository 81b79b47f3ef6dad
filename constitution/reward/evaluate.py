"""Evaluation of a reward model on labelled pairs: accuracy, calibration (ECE + reliability plot), length bias.

A reward tie (r_a = r_b) counts half in every figure, as in ``bench``: neither side is preferred.

Length bias is measured within pairs (two responses to the same prompt), as the length-bias literature does: pooling
all responses would mostly measure which prompts get long answers, not whether the model rewards length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from constitution.data import Pair
from constitution.reward.reports import Bin, EvalReport, Split


def _accuracy(correct: np.ndarray) -> float | None:
    return float(correct.mean()) if correct.size else None


def preferred(d: np.ndarray) -> np.ndarray:
    """1 where the gap ``d`` is positive, 0 where negative, 0.5 for a tie: how every figure here (and ``bench``) counts
    a reward tie."""
    return np.where(d > 0, 1.0, np.where(d == 0, 0.5, 0.0))


def correctness(d: np.ndarray, p_a: np.ndarray) -> np.ndarray:
    """Per pair, 1 when the reward gap ``d`` (A minus B) prefers the side the label prefers, 0 when the other, 0.5
    for a tie (``d`` = 0); ``p_a`` = 0.5 reads as preferring B (leave such pairs out)."""
    return preferred(np.where(p_a > 0.5, d, -d))


def _share_longer(d: np.ndarray, longer_a: np.ndarray) -> float | None:
    """Share of pairs where the gap ``d`` (A minus B) favours the longer response; a zero gap counts half."""
    if d.size == 0:
        return None
    return float(np.mean(preferred(np.where(longer_a, d, -d))))


def length_bias(r_a: np.ndarray, r_b: np.ndarray, p_a: np.ndarray, len_a: np.ndarray, len_b: np.ndarray) -> dict:
    """Within-pair length bias over labelled pairs: the fields ``length_*`` and ``*prefers_longer`` of EvalReport."""
    labelled = p_a != 0.5
    d_reward, d_len = (r_a - r_b)[labelled], (len_a - len_b)[labelled].astype(float)
    ok = d_reward.size > 2 and d_reward.std() > 0 and d_len.std() > 0
    unequal = d_len != 0
    longer_a = d_len[unequal] > 0
    return {
        "length_diff_corr": float(np.corrcoef(d_reward, d_len)[0, 1]) if ok else None,
        "length_bias_pairs": int(unequal.sum()),
        "prefers_longer": _share_longer(d_reward[unequal], longer_a),
        "label_prefers_longer": _share_longer(p_a[labelled][unequal] - 0.5, longer_a),
    }


def calibration(r_a: np.ndarray, r_b: np.ndarray, p_a: np.ndarray, n_bins: int = 10) -> tuple[float | None, list[Bin]]:
    """ECE of the model's confidence σ(|r_a - r_b|) in its preferred side vs the label, with reliability bins."""
    labelled = p_a != 0.5
    d = (r_a - r_b)[labelled]
    if d.size == 0:
        return None, []
    conf = 1.0 / (1.0 + np.exp(-np.abs(d)))
    correct = correctness(d, p_a[labelled])
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    bins, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf >= lo) & ((conf < hi) if hi < 1.0 else (conf <= hi))
        if not sel.any():
            continue
        c, a = float(conf[sel].mean()), float(correct[sel].mean())
        ece += sel.sum() / conf.size * abs(c - a)
        bins.append(Bin(lo=float(lo), hi=float(hi), n=int(sel.sum()), confidence=c, accuracy=a))
    return float(ece), bins


def preference_metrics(r_a: Sequence[float], r_b: Sequence[float], p_a: Sequence[float]) -> dict[str, float]:
    """accuracy (pairs with p_a != 0.5; a reward tie counts half), ece and the soft-label Bradley–Terry NLL; used by
    the trainer too."""
    ra, rb, p = (np.asarray(x, dtype=np.float64) for x in (r_a, r_b, p_a))
    labelled = p != 0.5
    d = ra - rb
    correct = correctness(d, p)
    nll = -(p * -np.logaddexp(0, -d) + (1 - p) * -np.logaddexp(0, d))
    ece, _ = calibration(ra, rb, p)
    out = {"nll": float(nll.mean()) if nll.size else float("nan")}
    if labelled.any():
        out["accuracy"] = float(correct[labelled].mean())
    if ece is not None:
        out["ece"] = ece
    return out


def evaluate_pairs(model, pairs: Sequence[Pair], *, batch_size: int = 64, progress: bool = False) -> EvalReport:
    """Score both responses of each labelled pair and compute the report (length = response characters)."""
    pairs = [p for p in pairs if p.p_a is not None]
    r_a, r_b = (np.asarray(x) for x in model.score_pairs(pairs, batch_size=batch_size, progress=progress))
    p_a = np.asarray([p.p_a for p in pairs], dtype=np.float64)
    len_a = np.asarray([len(p.response_a) for p in pairs])
    len_b = np.asarray([len(p.response_b) for p in pairs])
    return report_from_scores(r_a, r_b, p_a, len_a, len_b, [p.source for p in pairs])


def report_from_scores(
    r_a: np.ndarray, r_b: np.ndarray, p_a: np.ndarray, len_a: np.ndarray, len_b: np.ndarray, sources: Sequence[str]
) -> EvalReport:
    """The report from rewards, labels, response lengths and per-pair sources."""
    labelled = p_a != 0.5
    correct = correctness(r_a - r_b, p_a)
    chosen_len = np.where(p_a > 0.5, len_a, len_b)
    rejected_len = np.where(p_a > 0.5, len_b, len_a)
    longer = labelled & (chosen_len > rejected_len)
    shorter = labelled & (chosen_len < rejected_len)
    rewards = np.concatenate([r_a, r_b])
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sources):
        if labelled[i]:
            by_source[s or "unknown"].append(i)
    metrics = preference_metrics(r_a, r_b, p_a)
    ece, bins = calibration(r_a, r_b, p_a)
    return EvalReport(
        n=int(p_a.size),
        accuracy=metrics.get("accuracy"),
        ece=ece,
        nll=metrics["nll"] if p_a.size else None,
        bins=bins,
        accuracy_chosen_longer=Split(n=int(longer.sum()), accuracy=_accuracy(correct[longer])),
        accuracy_chosen_shorter=Split(n=int(shorter.sum()), accuracy=_accuracy(correct[shorter])),
        **length_bias(r_a, r_b, p_a, len_a, len_b),
        per_source={s: Split(n=len(ix), accuracy=_accuracy(correct[ix])) for s, ix in sorted(by_source.items())},
        reward_mean=float(rewards.mean()) if rewards.size else 0.0,
        reward_std=float(rewards.std()) if rewards.size else 0.0,
    )


def reliability_plot(report: EvalReport, path: str | Path) -> Path:
    """Reliability diagram (confidence vs accuracy per bin, bar width ~ share of pairs) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0.5, 1.0], [0.5, 1.0], "--", color="grey", label="perfect calibration")
    if report.bins:
        ax.bar(
            [(b.lo + b.hi) / 2 for b in report.bins],
            [b.accuracy for b in report.bins],
            width=[(b.hi - b.lo) * 0.9 for b in report.bins],
            alpha=0.7,
            label="accuracy per bin",
        )
        ax.plot([b.confidence for b in report.bins], [b.accuracy for b in report.bins], "o-", color="C1")
    ece = "n/a" if report.ece is None else f"{report.ece:.3f}"
    ax.set(xlabel="confidence σ(|r_a − r_b|)", ylabel="accuracy", xlim=(0.5, 1.0), ylim=(0.0, 1.0))
    ax.set_title(f"reliability (n={report.n}, ECE={ece})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
