"""Mean pooling that keeps a standard BERT-family ``*ForSequenceClassification`` folder.

all-MiniLM-L6-v2 was trained with mean pooling; BERT's [CLS] pooler is a leftover. Instead of a custom head (which
TRL/OpenRLHF would need ``trust_remote_code`` for), we append one ordinary encoder layer initialised so that every
position - [CLS] included - becomes LayerNorm(mean of the non-padding hidden states): zero query/key weights give
uniform attention over the unmasked tokens, identity values average them, a large output scale makes the residual
negligible and a zero feed-forward block passes the result through. The layer is then trained like any other, and
the saved model is a plain ``BertForSequenceClassification`` with ``num_hidden_layers + 1`` layers.
"""

from __future__ import annotations

import copy

import torch

RESIDUAL_SCALE = 100.0


def supports_mean_pooling(model) -> bool:
    """A BERT-like encoder (encoder.layer[i].attention.self/output, intermediate, output)."""
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    return bool(layers) and hasattr(layers[-1], "attention") and hasattr(layers[-1].attention, "self")


def add_mean_pooling_layer(model) -> None:
    """Append the mean-pooling layer to a BERT-like encoder (raises ValueError for other architectures)."""
    if not supports_mean_pooling(model):
        raise ValueError(f"pooling='mean' needs a BERT-like encoder, not {type(model).__name__}")
    layers = model.base_model.encoder.layer
    layer = copy.deepcopy(layers[-1])
    att, hidden = layer.attention, model.config.hidden_size
    eye = torch.eye(hidden)
    with torch.no_grad():
        for linear, weight in (
            (att.self.query, torch.zeros(hidden, hidden)),
            (att.self.key, torch.zeros(hidden, hidden)),
            (att.self.value, eye),
            (att.output.dense, eye * RESIDUAL_SCALE),
        ):
            linear.weight.copy_(weight)
            linear.bias.zero_()
        for linear in (layer.intermediate.dense, layer.output.dense):
            linear.weight.zero_()
            linear.bias.zero_()
        for norm in (att.output.LayerNorm, layer.output.LayerNorm):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
    if hasattr(layer.attention.self, "layer_idx"):
        layer.attention.self.layer_idx = len(layers)
    layers.append(layer)
    model.config.num_hidden_layers = len(layers)
