"""The soft-label Bradley–Terry loss reward models train on (one reward per pair, or one per pair and head)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(
    r_a: torch.Tensor,
    r_b: torch.Tensor,
    p_a: torch.Tensor,
    margin: float = 0.0,
    center: float = 0.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """-(p·logσ(r_a−r_b−m) + (1−p)·logσ(r_b−r_a−m)) + center·(r_a+r_b)², averaged; computed in fp32.

    Elementwise over any shape (pairs, or pairs × heads); with ``mask`` the average is over the entries where it is
    1 (a head is trained only by the pairs its principle judged).
    """
    r_a, r_b, p_a = r_a.float(), r_b.float(), p_a.float()
    d = r_a - r_b
    loss = -(p_a * F.logsigmoid(d - margin) + (1 - p_a) * F.logsigmoid(-d - margin))
    if center:
        loss = loss + center * (r_a + r_b) ** 2
    if mask is None:
        return loss.mean()
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)
