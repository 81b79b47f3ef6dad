"""The feature vector a reward model's heads read (the input of its final linear layer, pooled as the model pools it:
[CLS]/mean-pooled for encoders, the last non-pad token for decoders), and linear heads fitted on these frozen
features: one forward pass per response and a logistic regression, no backward through the model. A new principle's
head is the soft Bradley–Terry regression of its labels on h(a) − h(b) (no intercept: a pairwise loss cannot see
one); a safety category's head the soft logistic regression of P(violates it) on h."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from constitution.batching import length_sorted_batches
from constitution.reward.inputs import Item, pad_batch
from constitution.reward.model import RewardModel
from constitution.reward.temperature import scalar_head


@torch.inference_mode()
def head_features(rm: RewardModel, items: Sequence[Item], batch_size: int = 64) -> torch.Tensor:
    """The heads' input features of each item (float64, one row per item), pooled as the model pools them."""
    head = scalar_head(rm.model, rm.model.config.num_labels)
    ids = rm.encode(items)
    out = torch.zeros(len(ids), head.in_features, dtype=torch.float64)
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda module, args, output: captured.append(args[0]))
    try:
        for batch in length_sorted_batches([len(s) for s in ids], batch_size):
            inputs = {k: v.to(rm.device) for k, v in pad_batch([ids[i] for i in batch], rm.tokenizer.pad_token_id).items()}
            rm.model(**inputs)
            h = captured.pop()
            if h.dim() == 3:  # decoders apply the head to every token, then take the last non-pad one (as transformers does)
                tokens = torch.arange(h.shape[1], device=h.device)
                last = (tokens * (inputs["input_ids"] != rm.model.config.pad_token_id)).argmax(-1)
                h = h[torch.arange(h.shape[0], device=h.device), last]
            out[batch] = h.double().cpu()
    finally:
        hook.remove()
    return out


def fit_logistic(x: torch.Tensor, p: torch.Tensor, l2: float, *, intercept: bool, max_iter: int = 500) -> tuple[torch.Tensor, float]:
    """(w, b) minimising the mean soft logistic loss of ``x @ w + b`` against probabilities ``p``, plus ``l2 · |w|²``
    (L-BFGS, float64); ``b`` stays 0 without ``intercept``."""
    x, p = x.double(), p.double()
    w = torch.zeros(x.shape[1] + int(intercept), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        z = x @ w[: x.shape[1]] + (w[-1] if intercept else 0.0)
        loss = -(p * F.logsigmoid(z) + (1 - p) * F.logsigmoid(-z)).mean() + l2 * w[: x.shape[1]].dot(w[: x.shape[1]])
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    w = w.detach()
    return w[: x.shape[1]], float(w[-1]) if intercept else 0.0
