"""``MonitorCallback``: the ``TrainerCallback`` half of the gold monitor, for any ``GRPOTrainer`` script.

It passes TRL's logged KL to the monitor (per token, and per sequence: :mod:`constitution.rl.kl`), sets up the gold win rate against the reference policy (the policy as
training starts: its greedy answers to fixed prompts, judged against the current policy's at each check), exposes the
alarm as :attr:`MonitorCallback.alarm`, and with ``stop_on_alarm`` stops training at the first one::

    monitor = GoldMonitor(RewardFunction.load("rm"), Labeler(constitution, gold_llm, JudgmentCache("gold.sqlite")))
    trainer = GRPOTrainer(..., reward_funcs=[monitor], callbacks=[MonitorCallback(monitor)])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from transformers import TrainerCallback

from constitution.data import Message, Pair
from constitution.labeling import label_pairs
from constitution.rl.kl import inexact_settings, with_kl_names
from constitution.rl.monitor import GoldMonitor

log = logging.getLogger(__name__)


def greedy_answers(model: Any, tokenizer: Any, prompts: Sequence[list[Message]], max_tokens: int) -> list[str]:
    """The model's greedy answers (chat template, left padding), in prompt order."""
    import torch

    texts = [tokenizer.apply_chat_template([m.model_dump() for m in p], tokenize=False, add_generation_prompt=True) for p in prompts]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side = side
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    finally:
        model.train(training)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)


class MonitorCallback(TrainerCallback):
    """Feeds the monitor the trainer's KL and the win-rate probe; turns its alarm into a flag (and a stop)."""

    def __init__(self, monitor: GoldMonitor, win_rate_prompts: Sequence[list[Message]] = ()) -> None:
        self.monitor = monitor
        self.prompts = list(win_rate_prompts)
        self.reference: list[str] = []
        self.seq_kl = True  # False where the trainer's settings make the sequence KL inexact

    @property
    def alarm(self) -> bool:
        """Whether the monitor's alarm has fired."""
        return self.monitor.alarm

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        inexact = inexact_settings(args)
        if inexact:
            self.seq_kl = False
            log.warning("gold monitor: no sequence KL in its records under %s (TRL's logged KL × mean length is exact "
                        "only with one loss batch per logged step)", ", ".join(inexact))  # fmt: skip
        if not self.prompts or model is None or processing_class is None:
            return
        tokens = self.monitor.config.win_rate_max_tokens
        self.reference = greedy_answers(model, processing_class, self.prompts, tokens)
        self.monitor.win_rate = lambda: self.win_rate(model, processing_class)

    def win_rate(self, model: Any, tokenizer: Any) -> float | None:
        """Mean gold P(policy's greedy answer preferred over the reference's) on the fixed prompts."""
        answers = greedy_answers(model, tokenizer, self.prompts, self.monitor.config.win_rate_max_tokens)
        pairs = [Pair(id=f"win-{i}", prompt=p, response_a=a, response_b=r) for i, (p, a, r) in enumerate(zip(self.prompts, answers, self.reference))]
        records, _ = label_pairs(self.monitor.labeler, pairs)
        return sum(r.p_a for r in records) / len(records) if records else None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "kl" in logs:
            row = with_kl_names(logs)
            self.monitor.last_kl = row["kl_per_token"]
            self.monitor.last_seq_kl = row["seq_kl"] if self.seq_kl else None

    def on_step_end(self, args, state, control, **kwargs):
        if self.monitor.alarm and self.monitor.config.stop_on_alarm:
            control.should_training_stop = True
        return control
