"""The model a reward model is trained from: a backbone with a fresh scalar head (or one head per principle), mean
pooling where it applies, frozen parts, dropout off, LoRA adapters."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from constitution.embedded_models import resolve_model
from constitution.errors import InputError
from constitution.reward.config import LoraSettings, RewardTrainingConfig
from constitution.reward.inputs import input_kind, prepare_tokenizer
from constitution.reward.pooling import add_mean_pooling_layer, supports_mean_pooling


_POSITION_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
_PADDED_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "longformer", "mpnet"})
"""Model types whose position ids start after the padding index: ``pad_token_id + 1`` positions are never used."""


def position_limit(model_config) -> int | None:
    """The most tokens a backbone's position embeddings hold (None when its config does not say, or when it has no
    absolute positions: DeBERTa-v2/v3 with ``position_biased_input: false`` reads any length through relative ones)."""
    if getattr(model_config, "position_biased_input", True) is False:
        return None
    for field in _POSITION_FIELDS:
        value = getattr(model_config, field, None)
        if isinstance(value, int) and value > 0:
            if getattr(model_config, "model_type", "") in _PADDED_POSITIONS:
                value -= (getattr(model_config, "pad_token_id", None) or 0) + 1
            return value
    return None


def check_max_length(base_model: str, max_length: int, flag: str = "--max-length") -> None:
    """An :class:`InputError` (before any data is read or model loaded) when ``max_length`` exceeds the positions of
    ``base_model``: such a model would train and save, then fail on its first long input."""
    from transformers import AutoConfig

    limit = position_limit(AutoConfig.from_pretrained(resolve_model(base_model)))
    if limit is not None and max_length > limit:
        raise InputError(f"{flag} {max_length} is more than the {limit} positions of the backbone {base_model} (its config's position limit)")


_HEAD_MODULES = frozenset({"classifier", "score", "pre_classifier"})
"""Where transformers' sequence-classification models keep the head that a backbone checkpoint does not have."""


def _without_load_report(load: Callable[[], Any]) -> Any:
    """``load()`` with transformers' load report held back: its table calls a freshly initialised head MISSING,
    which reads like a failure (:func:`_say_new_weights` says what it means instead)."""
    logger = logging.getLogger("transformers.modeling_utils")  # a filter, not a level: its level gates other checks
    hold_back = _LoadReportFilter()
    logger.addFilter(hold_back)
    try:
        return load()
    finally:
        logger.removeFilter(hold_back)


class _LoadReportFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def _say_new_weights(missing: Sequence[str]) -> None:
    """One line for the new head; a warning for any other weight the checkpoint lacked (main process only)."""
    if os.environ.get("RANK", "0") != "0":
        return
    head = sorted(k for k in missing if k.split(".")[0] in _HEAD_MODULES)
    other = sorted(k for k in missing if k.split(".")[0] not in _HEAD_MODULES)
    if head:
        print(f"new reward head initialised ({', '.join(head)})", file=sys.stderr)
    if other:
        listed = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
        print(f"warning: {len(other)} backbone weight(s) not in its checkpoint, initialised at random: {listed}", file=sys.stderr)


def load_backbone(config: RewardTrainingConfig, heads: Sequence[str] = ()):
    """(model, tokenizer, input kind, pooling used) for a backbone with a fresh scalar head, or with one head per
    entry of ``heads`` (named in the config's ``id2label``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    check_max_length(config.base_model, config.max_length)
    folder = resolve_model(config.base_model)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(folder), config.max_length)
    labels = {"id2label": dict(enumerate(heads)), "label2id": {h: i for i, h in enumerate(heads)}} if heads else {"num_labels": 1}
    model, info = _without_load_report(
        lambda: AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32, output_loading_info=True, **labels)
    )
    _say_new_weights(info["missing_keys"])
    model.config.pad_token_id = tokenizer.pad_token_id
    pooling = config.pooling
    if pooling == "auto":
        pooling = "mean" if supports_mean_pooling(model) else "native"
    if pooling == "mean":
        add_mean_pooling_layer(model)
    _freeze(model, config)
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return model, tokenizer, input_kind(tokenizer, model.config), pooling


def _freeze(model, config: RewardTrainingConfig) -> None:
    if config.freeze_embeddings:
        embeddings = getattr(model.base_model, "embeddings", None) or model.get_input_embeddings()
        embeddings.requires_grad_(False)
    if config.freeze_layers:
        n = model.config.num_hidden_layers
        stacks = [m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n]
        if not stacks:
            raise ValueError("freeze_layers: cannot find the transformer layer list")
        for layer in stacks[0][: config.freeze_layers]:
            layer.requires_grad_(False)


def with_lora(model, lora: LoraSettings):
    """``model`` wrapped with trainable LoRA adapters (peft; merged into the weights when the model is saved)."""
    from peft import LoraConfig, TaskType, get_peft_model

    return get_peft_model(
        model,
        LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
        ),
    )
