"""Add one principle's head to a per-principle reward model, fitted on frozen features: nothing else changes.

The heads are rows of one linear layer over a feature vector h (the input of that layer, pooled as the model pools
it: [CLS]/mean-pooled for encoders, the last non-pad token for decoders). The backbone stays frozen, so h of each
labelled response is computed once, and the new row w is the soft Bradley–Terry logistic regression of the labels
on h(a) − h(b), with an L2 penalty, by L-BFGS (seconds, where retraining takes minutes). Its bias is 0: a pairwise
loss cannot see it (jointly trained heads keep their zero initial bias for the same reason). A temperature is fitted
on held-out labelled pairs as for every head. The other heads' rows and the backbone are copied bit for bit, so
their outputs do not change; nor do their statistics (mean, covariance: the new head's are carried over to the same
responses, :func:`extend_stats`), the category heads, the safety threshold or anything else in the folder.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from constitution.data.pairs import split_pairs
from constitution.errors import InputError
from constitution.principles import ResolvedPrinciple
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.heads import head_stats, head_weights, reward_stats
from constitution.reward.features import fit_logistic, head_features
from constitution.reward.metadata import HeadInfo
from constitution.reward.model import RewardModel
from constitution.reward.principle_pairs import PrinciplePair
from constitution.reward.publish import write_folder
from constitution.reward.temperature import HeldoutCalibration, heldout_report, replace_head, scalar_head


class AddHeadResult(BaseModel):
    """What adding a head did."""

    out_dir: str
    principle: str
    heads: list[str]
    train_pairs: int
    eval_pairs: int
    temperature: float
    eval_metrics: dict[str, float]
    calibration: HeldoutCalibration | None
    fit_seconds: float


@torch.no_grad()
def _append_row(rm: RewardModel, row: torch.Tensor, principle: str) -> None:
    """Grow the heads' layer by one output (the old rows copied exactly) and name it in the config."""
    old = scalar_head(rm.model, len(rm.heads))
    new = torch.nn.Linear(old.in_features, old.out_features + 1, bias=old.bias is not None).to(old.weight)
    new.weight[:-1] = old.weight
    new.weight[-1] = row.to(old.weight)
    if old.bias is not None:
        new.bias[:-1] = old.bias
        new.bias[-1] = 0.0
    replace_head(rm.model, old, new)
    heads = [*rm.heads, principle]
    rm.model.config.id2label = dict(enumerate(heads))
    rm.model.config.label2id = {h: i for i, h in enumerate(heads)}


def extend_stats(mean: list[float], cov: list[list[float]], matrix: np.ndarray) -> tuple[list[float], list[list[float]]]:
    """The heads' mean and covariance with one head more, the old heads' entries kept exactly.

    ``matrix``: outputs of the old heads and (last column) the new one on the responses at hand, which are not the
    training responses the stored statistics came from. The new head is regressed on the old ones there
    (r_new = βᵀ r_old + ε), and the statistics of that relation carried over to the stored ones:
    μ_new = m_new + βᵀ(μ_old − m_old), C_old,new = C_old β, C_new,new = βᵀ C_old β + Var ε — a valid covariance.
    Without stored statistics (a folder assembled by hand) all come from ``matrix``.
    """
    if not mean:
        return head_stats(matrix)
    m, s = (np.asarray(x) for x in head_stats(matrix))
    k = len(mean)
    mu, c = np.asarray(mean), np.asarray(cov)
    beta = np.linalg.pinv(s[:k, :k]) @ s[:k, k]
    residual = max(float(s[k, k] - s[:k, k] @ beta), 0.0)
    cross = c @ beta
    new = np.zeros((k + 1, k + 1))
    new[:k, :k], new[:k, k], new[k, :k] = c, cross, cross
    new[k, k] = float(beta @ c @ beta) + residual
    return [*mean, float(m[k] + beta @ (mu - m[:k]))], [[*row, float(x)] for row, x in zip(cov, cross)] + [new[k].tolist()]


def add_principle_head(
    source: str | Path,
    out_dir: str | Path,
    principle: ResolvedPrinciple,
    pairs: Sequence[PrinciplePair],
    config: RewardTrainingConfig | None = None,
) -> AddHeadResult:
    """Write to ``out_dir`` (may be ``source``: replaced atomically) the model at ``source`` with one more head, for
    ``principle``, fitted on the pairs it judged. ``config`` supplies ``eval_fraction``, ``calibrate_temperature``,
    ``seed``, ``norm_stats_pairs`` and ``frozen_head_l2``."""
    config = config or RewardTrainingConfig()
    rm = RewardModel.load(source, bf16=False)
    if not rm.heads:
        raise InputError("--add-principle needs a per-principle reward model (`constitution train --heads per_principle`)", where=str(source))
    if principle.id in rm.heads:
        raise InputError(f"the reward model already has a head for principle {principle.id!r}", where=str(source))
    labelled = [p for p in pairs if principle.id in p.per_principle]
    if not labelled:
        raise InputError(f"no pair has a label for principle {principle.id!r}", where=principle.where)
    train, heldout = labelled, []
    if config.eval_fraction > 0 and len(labelled) >= 10:
        train, heldout = split_pairs(labelled, len(labelled) - max(1, round(config.eval_fraction * len(labelled))), config.seed)
    start = time.perf_counter()
    both = [*train, *heldout]
    features = head_features(rm, [(p.prompt, p.response_a) for p in both] + [(p.prompt, p.response_b) for p in both])
    f_a, f_b = features[: len(both)], features[len(both) :]
    p = torch.tensor([x.per_principle[principle.id] for x in both], dtype=torch.float64)
    n = len(train)
    w, _ = fit_logistic(f_a[:n] - f_b[:n], p[:n], config.frozen_head_l2, intercept=False)  # Bradley–Terry on h(a) − h(b)
    metrics: dict[str, float] = {}
    calibration = None
    if heldout:
        r_a, r_b = (f_a[n:] @ w).numpy(), (f_b[n:] @ w).numpy()
        metrics, calibration = heldout_report(r_a, r_b, p[n:].numpy(), calibrate=config.calibrate_temperature, seed=config.seed)
        w = w / calibration.temperature
    fit_seconds = time.perf_counter() - start
    _append_row(rm, w, principle.id)
    meta = rm.metadata
    meta.heads = [*meta.heads, principle.id]
    meta.head_info[principle.id] = HeadInfo(
        weight=principle.weight,
        temperature=calibration.temperature if calibration else 1.0,
        train_pairs=n,
        fitted="frozen_features",
        eval_metrics=metrics,
        calibration=calibration,
    )
    stat = torch.cat([f_a[: config.norm_stats_pairs], f_b[: config.norm_stats_pairs]])
    head = scalar_head(rm.model, len(meta.heads))
    matrix = stat @ head.weight.double().T.detach() + (head.bias.double().detach() if head.bias is not None else 0.0)
    meta.head_mean, meta.head_cov = extend_stats(meta.head_mean, meta.head_cov, matrix.numpy())
    meta.reward_mean, meta.reward_std = reward_stats(meta, head_weights(meta))
    rm.model.config.update({"mean": meta.reward_mean, "std": meta.reward_std})
    write_folder(Path(out_dir).resolve(), rm.model, rm.tokenizer, meta, source=Path(source).resolve())
    return AddHeadResult(
        out_dir=str(out_dir),
        principle=principle.id,
        heads=meta.heads,
        train_pairs=n,
        eval_pairs=len(heldout),
        temperature=meta.head_info[principle.id].temperature,
        eval_metrics=metrics,
        calibration=calibration,
        fit_seconds=fit_seconds,
    )
