"""Resumable checkpoints of a reward-training run in ``<out>/checkpoints``: when to write them, which one to resume.

A checkpoint is the Trainer's own ``checkpoint-<step>`` folder (weights, optimizer, scheduler, RNG state). The
Trainer writes ``trainer_state.json`` last, so a folder whose state file is missing or unreadable was cut off while
being saved. ``run.json`` beside the checkpoints records the config and the data they belong to; checkpoints of a
different run are discarded (and reported) rather than resumed.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, SaveStrategy

from constitution.atomic import atomic_write_text
from constitution.data.records import Pair
from constitution.hashing import content_hash

logger = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"  # inside the output folder
RUN_FILE = "run.json"


class RunIdentity(BaseModel):
    """What decides a run's result: its training config and a hash of its training and held-out pairs."""

    config: dict
    data: str


def _labels(pair: Pair) -> list:
    """What a pair contributes to the identity: its content, its label and its per-principle labels, if any."""
    per_principle = getattr(pair, "per_principle", None)
    return [pair.pair_hash(), pair.p_a] + ([sorted(per_principle.items())] if per_principle is not None else [])


def run_identity(config: BaseModel, train_pairs: Sequence[Pair], eval_pairs: Sequence[Pair]) -> RunIdentity:
    """The identity of a run over these pairs with this config."""
    digest = content_hash([_labels(p) for p in train_pairs], [_labels(p) for p in eval_pairs])
    return RunIdentity(config=config.model_dump(mode="json"), data=digest)


def checkpoint_step(folder: Path) -> int:
    """The update step in a ``checkpoint-<step>`` folder name (-1 when it has none)."""
    suffix = folder.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
    return int(suffix) if suffix.isdigit() else -1


def is_complete(folder: Path) -> bool:
    """Whether the Trainer finished saving this checkpoint (its state file, written last, parses)."""
    try:
        json.loads((folder / TRAINER_STATE_NAME).read_text())
    except (OSError, ValueError):
        return False
    return True


def checkpoint_folders(root: Path) -> list[Path]:
    """``checkpoint-<step>`` folders under ``root``, oldest step first."""
    found = [f for f in root.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if f.is_dir() and checkpoint_step(f) >= 0]
    return sorted(found, key=checkpoint_step)


def last_complete(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root``, if any."""
    return next((f for f in reversed(checkpoint_folders(root)) if is_complete(f)), None)


def _mismatch(root: Path, identity: RunIdentity) -> str:
    """Why the checkpoints in ``root`` belong to another run ("" when they are this run's)."""
    try:
        old = RunIdentity.model_validate_json((root / RUN_FILE).read_text())
    except (OSError, ValueError):
        return f"no readable {RUN_FILE}"
    keys = old.config.keys() | identity.config.keys()
    fields = sorted(k for k in keys if old.config.get(k) != identity.config.get(k))
    reasons = [f"config differs in {', '.join(fields)}"] if fields else []
    if old.data != identity.data:
        reasons.append("training data differs")
    return "; ".join(reasons)


def prepare_resume(root: Path, identity: RunIdentity, *, clean: bool) -> tuple[Path | None, list[str]]:
    """(checkpoint to resume from or None, the folders discarded and why) for a run about to start in ``root``.

    Incomplete checkpoints, and all checkpoints of a different run, are discarded. With ``clean`` (the main process)
    they are deleted and ``run.json`` is written; other processes only read, and reach the same answer.
    """
    folders = checkpoint_folders(root)
    why = _mismatch(root, identity) if folders else ""
    if why:
        stale = {f: f"from a different run ({why})" for f in folders}
    else:
        stale = {f: "incomplete (interrupted while it was being saved)" for f in folders if not is_complete(f)}
    resume = None if why else last_complete(root)
    discarded = [f"{folder}: {reason}" for folder, reason in stale.items()]
    for note in discarded:
        logger.warning("discarding checkpoint %s", note)
    if resume is not None:
        logger.warning("resuming from %s (update step %d) of an interrupted run", resume, checkpoint_step(resume))
    if clean:
        for folder in stale:
            shutil.rmtree(folder)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / RUN_FILE, identity.model_dump_json(indent=2) + "\n")
    return resume, discarded


class CheckpointEvery(TrainerCallback):
    """Ask the Trainer for a checkpoint every ``steps`` updates (0: never).

    A step that ends an epoch is left to the Trainer's own per-epoch save (used with held-out pairs), so no checkpoint
    folder is written twice — a second write over a complete folder could leave it half old, half new.
    """

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs
    ) -> TrainerControl:
        ends_epoch = state.epoch == int(state.epoch) or state.global_step >= state.max_steps
        if args.save_strategy == SaveStrategy.EPOCH and ends_epoch:
            return control
        if self.steps and state.global_step % self.steps == 0:
            control.should_save = True
        return control
