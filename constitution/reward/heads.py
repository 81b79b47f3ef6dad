"""Per-principle heads: the reward as the constitution-weighted mean of the heads, and what follows from it.

A per-principle reward model has one output ``r_k`` per principle (``RewardMetadata.heads``). Its reward is

    r = Σ_k w_k r_k / Σ_k w_k,

``w_k`` being the principle's effective weight (principle weight × set weight) in the constitution read at load
time. It is a weighted *mean*, as the label ``p_a`` is a weighted mean of the principles' labels: each head is
trained (and calibrated) against its own principle's labels, so σ(r(a) − r(b)) stays on the scale of ``p_a`` whatever
the weights add up to (a weighted sum would be over-confident by Σw), and ECE/NLL of per-principle and scalar models
compare. So editing a weight in the YAML changes every reward, with no relabeling and no training (``constitution
diff`` computes rewards the same way from ``score_heads``); multiplying every weight by one factor changes nothing.
A head whose principle is absent from the constitution gets weight 0 (deleting a principle from the YAML drops its
head from the reward; the head stays in the folder, so restoring the principle restores it); a principle of
positive weight with no head is an error that names it. Without a constitution the weights the model was trained
with (``HeadInfo.weight``) are used (1 for a head whose weight the metadata does not record, as in a folder assembled
by hand). :func:`head_weights` returns the weights already divided by their sum.

The reward is linear in the heads, so its training-set mean and std under any weights follow exactly from the heads'
mean vector μ and covariance C over the training responses: mean = w·μ, std = √(wᵀCw); and the normalised
contributions ``w_k (r_k − μ_k) / std`` sum to the normalised reward ``(r − mean) / std``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.reward.metadata import RewardMetadata


def unit_weights(raw: Sequence[float], where: str = "") -> np.ndarray:
    """``raw / Σ raw``: the weights of a weighted mean (InputError when they are all 0)."""
    weights = np.asarray(raw, dtype=np.float64)
    total = weights.sum()
    if not total > 0:
        raise InputError(f"every head of the reward model has weight 0{' under ' + where if where else ''}")
    return weights / total


def head_weights(meta: RewardMetadata, constitution: Constitution | None = None) -> np.ndarray:
    """The weights of ``meta.heads`` under ``constitution`` (0 for a head whose principle it lacks), else the
    training weights; divided by their sum (:func:`unit_weights`).

    Raises InputError for a principle of positive weight that has no head, and for weights that are all 0.
    """
    if constitution is None:
        raw = np.asarray([meta.head_info[h].weight if h in meta.head_info else 1.0 for h in meta.heads], dtype=np.float64)
        where = "the model's training weights"
    else:
        known = set(meta.heads)
        for principle in constitution.principles:
            if principle.weight > 0 and principle.id not in known:
                raise InputError(
                    f"the reward model has no head for principle {principle.id!r} (weight {principle.weight:g}); its "
                    f"heads: {', '.join(meta.heads)}. Train one with `constitution train LABELS --out MODEL "
                    f"--add-principle {principle.id}`, or set its weight to 0",
                    where=principle.where,
                )
        by_id = {p.id: p.weight for p in constitution.principles}
        raw = np.asarray([by_id.get(h, 0.0) for h in meta.heads], dtype=np.float64)
        where = f"constitution {constitution.id!r}"
    return unit_weights(raw, f"{where} (heads: {', '.join(meta.heads)})")


def head_stats(matrix: np.ndarray) -> tuple[list[float], list[list[float]]]:
    """Mean vector and (population) covariance of head outputs, rows = responses, columns = heads."""
    m = np.asarray(matrix, dtype=np.float64)
    mean = m.mean(axis=0)
    centered = m - mean
    return mean.tolist(), (centered.T @ centered / len(m)).tolist()


def reward_stats(meta: RewardMetadata, weights: np.ndarray) -> tuple[float, float]:
    """(mean, std) of the combined reward over the training responses under ``weights`` (std 1.0 if degenerate);
    without head statistics (not computed yet, or a folder assembled by hand), the metadata's reward_mean/std."""
    if not meta.head_mean:
        return meta.reward_mean, meta.reward_std or 1.0
    mean = float(weights @ np.asarray(meta.head_mean))
    variance = float(weights @ np.asarray(meta.head_cov) @ weights)
    return mean, (float(np.sqrt(variance)) if variance > 0 else 1.0)


def combine(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Combined rewards (one per row) from head outputs (rows = items, columns = heads). Heads of weight 0 are left
    out, so a NaN or infinity in a head that does not count does not reach the reward."""
    weights = np.asarray(weights, dtype=np.float64)
    used = weights != 0
    return np.asarray(matrix, dtype=np.float64)[:, used] @ weights[used]


def contributions(
    matrix: np.ndarray, weights: np.ndarray, heads: Sequence[str], *, mean: Sequence[float] | None = None, std: float = 1.0
) -> list[dict[str, float]]:
    """Per item, each weighted head's share of the reward: ``w_k r_k`` (raw; they sum to the raw reward) or, with
    the heads' training ``mean`` and the reward's ``std``, ``w_k (r_k − μ_k) / std`` (they sum to the normalised
    reward). Heads of weight 0 are left out."""
    m = np.asarray(matrix, dtype=np.float64)
    if mean is not None:
        m = (m - np.asarray(mean)) / std
    shares = m * weights
    used = [k for k, w in enumerate(weights) if w > 0]
    return [{heads[k]: float(row[k]) for k in used} for row in shares]
