"""Remedies measured on the same pool: ensembles of proxies and a proxy refreshed on gold labels of its own picks.

Ensembles (Coste et al. 2023) combine K proxies' scores of each sample: their mean, their minimum (worst case), or
their mean − λ·std (uncertainty-weighted). Members should be on one scale (e.g. each normalised by its own saved
reward mean and std).

Refresh: the proxy's top picks of each prompt, each against a sample the proxy ranks below them, labelled by the gold
(p = σ(gold_pick − gold_other)); a proxy fine-tuned on those pairs then scores the pool again. To keep a prompt's
own labels out of its curve, prompts are split into folds: the pairs of the other folds refresh the proxy that
scores this fold (cross-fitting).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel

from constitution.errors import InputError

EnsembleKind = Literal["mean", "worst", "mean_minus_std"]
ENSEMBLES: tuple[EnsembleKind, ...] = ("mean", "worst", "mean_minus_std")


def ensemble(members, kind: EnsembleKind, lam: float = 1.0) -> np.ndarray:
    """Combine (K × prompts × samples) member scores into one (prompts × samples) matrix."""
    s = np.asarray(members, dtype=float)
    if s.ndim != 3 or s.shape[0] < 2:
        raise InputError(f"an ensemble needs a (members × prompts × samples) array of >= 2 members, got shape {s.shape}")
    if kind == "mean":
        return s.mean(axis=0)
    if kind == "worst":
        return s.min(axis=0)
    if kind == "mean_minus_std":
        return s.mean(axis=0) - lam * s.std(axis=0)
    raise InputError(f"unknown ensemble {kind!r}: one of {', '.join(ENSEMBLES)}")


def folds(prompts: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """The prompt rows split into ``k`` shuffled folds of near-equal size."""
    if not 2 <= k <= prompts:
        raise InputError(f"cross-fitting needs 2 <= folds <= prompts ({prompts}), got {k}")
    return [np.sort(f) for f in np.array_split(np.random.default_rng(seed).permutation(prompts), k)]


class LabelledPick(BaseModel):
    """One of the proxy's picks against a lower-ranked sample of the same prompt, with the gold's preference."""

    row: int  # prompt row of the pool
    pick: int  # sample index of the proxy's pick
    other: int  # sample index it is compared with
    p_pick: float  # σ(gold[pick] − gold[other])


def refresh_pairs(proxy, gold, rows, *, top: int = 4, seed: int = 0) -> list[LabelledPick]:
    """For each prompt row in ``rows``: the proxy's ``top`` highest samples, each paired with a random sample ranked
    below the top, labelled by the gold (its scores are log-odds: a Bradley–Terry reward)."""
    p, g = np.asarray(proxy, dtype=float), np.asarray(gold, dtype=float)
    if p.shape != g.shape or p.ndim != 2:
        raise InputError(f"proxy and gold must score the same (prompts × samples) pool: {p.shape}, {g.shape}")
    if not 1 <= top < p.shape[1]:
        raise InputError(f"top must leave samples to compare with: 1 <= top < {p.shape[1]}, got {top}")
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        ranked = np.argsort(-p[row], kind="stable")
        for pick in ranked[:top]:
            other = int(rng.choice(ranked[top:]))
            out.append(LabelledPick(row=int(row), pick=int(pick), other=other,
                                    p_pick=1.0 / (1.0 + math.exp(-(g[row, pick] - g[row, other])))))  # fmt: skip
    return out
