"""The reward head in fp32 under bf16 autocast, as the judge's LM head is.

Under autocast a ``Linear`` runs in bf16: its weight rows are rounded to 8 bits of mantissa and so is its output, so
rewards come out quantised (-0.055419921875), equal rewards tie, and a per-principle model's K rows, each rounded on
its own, no longer sum to the single row ``export --scalar`` writes (differences up to 2e-3). The backbone may still
run in bf16; only the last linear layer is computed in fp32 from the upcast features, which makes ``score`` of a
per-principle model and of its export agree to fp32 rounding on every machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from constitution.reward.temperature import replace_head, scalar_head


class Fp32Linear(torch.nn.Linear):
    """``nn.Linear`` computed in fp32 whatever autocast says (same parameters, same state-dict keys)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            bias = None if self.bias is None else self.bias.float()
            return F.linear(x.float(), self.weight.float(), bias)


def keep_head_fp32(model, outputs: int) -> None:
    """Make the reward head (``Linear(·, outputs)``) of ``model`` an :class:`Fp32Linear` sharing its parameters."""
    head = scalar_head(model, outputs)
    if isinstance(head, Fp32Linear):
        return
    fp32 = Fp32Linear(head.in_features, head.out_features, bias=head.bias is not None, device="meta")
    fp32.weight = head.weight
    fp32.bias = head.bias
    replace_head(model, head, fp32)
