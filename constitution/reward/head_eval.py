"""Held-out metrics of a per-principle model: each head against its own principle's labels, and the weighted reward
against the ensembled label ``p_a``; one temperature per head; each principle's part in the model's decisions
(:func:`heads_report`, the run report's section).

Each head is calibrated on its own (its held-out judgments fit its temperature, as in :mod:`temperature`), so
σ(r_k(a) − r_k(b)) is a calibrated probability that principle k prefers a — meaningful per principle, and under any
re-weighting. The weighted reward is then measured with the calibrated heads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from constitution.reward.evaluate import correctness, preference_metrics
from constitution.reward.reports import HeadsReport, PrincipleReport
from constitution.reward.heads import unit_weights
from constitution.reward.model import RewardModel
from constitution.reward.principle_pairs import PrinciplePair
from constitution.reward.temperature import HeldoutCalibration, heldout_report


class HeadReport(BaseModel):
    """One head's held-out figures."""

    eval_metrics: dict[str, float]
    calibration: HeldoutCalibration | None
    pairs: int


def head_metrics(rewards: np.ndarray, p: np.ndarray, mask: np.ndarray, p_a: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Metrics of ``rewards`` (pairs × heads × (a, b)): the weighted-mean reward (``weights`` divided by their sum, as
    the model combines them) vs ``p_a`` (accuracy, ece, nll) and ``judgment_*`` over every (pair, head) whose
    principle judged the pair, vs that principle's label."""
    judged = mask > 0
    out = {f"judgment_{k}": v for k, v in preference_metrics(rewards[..., 0][judged], rewards[..., 1][judged], p[judged]).items()}
    w = unit_weights(weights)
    out.update(preference_metrics(rewards[..., 0] @ w, rewards[..., 1] @ w, p_a))
    return out


def heldout_heads(
    rewards: np.ndarray,
    p: np.ndarray,
    mask: np.ndarray,
    p_a: np.ndarray,
    weights: np.ndarray,
    heads: Sequence[str],
    *,
    calibrate: bool,
    seed: int,
) -> tuple[dict[str, float], dict[str, HeadReport], list[float]]:
    """(metrics of the calibrated model, per-head reports, per-head temperatures) on held-out pairs.

    Head k is measured on the held-out pairs its principle judged; with ``calibrate`` and enough of them its
    temperature is fitted on one half and its ECE/NLL reported on the other (:func:`temperature.heldout_report`).
    """
    reports: dict[str, HeadReport] = {}
    temperatures: list[float] = []
    for k, head in enumerate(heads):
        judged = mask[:, k] > 0
        if not judged.any():
            reports[head] = HeadReport(eval_metrics={}, calibration=None, pairs=0)
            temperatures.append(1.0)
            continue
        metrics, calibration = heldout_report(rewards[judged, k, 0], rewards[judged, k, 1], p[judged, k], calibrate=calibrate, seed=seed)
        reports[head] = HeadReport(eval_metrics=metrics, calibration=calibration, pairs=int(judged.sum()))
        temperatures.append(calibration.temperature)
    scaled = rewards / np.asarray(temperatures)[None, :, None]
    return head_metrics(scaled, p, mask, p_a, weights), reports, temperatures


def heads_report(model: RewardModel, pairs: Sequence[PrinciplePair], *, batch_size: int = 64) -> HeadsReport:
    """Agreement of each head with its principle's labels, and each principle's contribution to the reward gap."""
    items = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
    matrix = np.asarray(model.score_heads(items, batch_size=batch_size), dtype=np.float64)
    gap = matrix[: len(pairs)] - matrix[len(pairs) :]  # pairs × heads: r_k(a) − r_k(b)
    shares = gap * model.weights / model.reward_std
    p_a = np.asarray([0.5 if p.p_a is None else p.p_a for p in pairs])
    decided = p_a != 0.5
    sign = np.where(p_a > 0.5, 1.0, -1.0)[decided]
    magnitude = np.abs(shares).mean(axis=0) if len(pairs) else np.zeros(len(model.heads))
    total = magnitude.sum() or 1.0
    principles = []
    for k, head in enumerate(model.heads):
        if model.weights[k] == 0:
            continue
        labels = np.asarray([p.per_principle.get(head, 0.5) for p in pairs])
        judged = labels != 0.5
        agree = correctness(gap[judged, k], labels[judged])
        principles.append(
            PrincipleReport(
                principle=head,
                weight=float(model.weights[k]),
                judged_pairs=int(judged.sum()),
                agreement=float(agree.mean()) if judged.any() else None,
                contribution=float((shares[decided, k] * sign).mean()) if decided.any() else 0.0,
                share=float(magnitude[k] / total),
            )
        )
    combined = gap @ model.weights
    accuracy = float(correctness(combined[decided], p_a[decided]).mean()) if decided.any() else None
    return HeadsReport(pairs=len(pairs), accuracy=accuracy, principles=principles)
