"""``StepLog``: TRL's log of each step written to ``log.jsonl`` as it happens, so a run cut short keeps its steps.

Each row is what the trainer logged (with ``step``) plus the KL per sequence beside TRL's per-token mean
(:func:`constitution.rl.kl.with_kl_names`); only the training steps' rows (those with a ``reward``) are written. The
file starts empty when training starts: a rerun into the same folder replaces it, as the monitor's ``monitor.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from constitution.rl.kl import with_kl_names


class StepLog(TrainerCallback):
    """Appends each logged training step to a JSONL file, flushed as written (on the main process only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:  # started when training starts: a run refused before it leaves no log
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "reward" not in logs or not state.is_world_process_zero:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(with_kl_names({**logs, "step": state.global_step}), default=float) + "\n")
