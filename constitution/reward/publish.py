"""Put a finished model folder in place atomically: the final path shows the old folder or the new one, never half.

The model is written to a hidden sibling ``.<name>.saving``; ``publish`` then swaps it in with
:func:`constitution.atomic.replace_dir`, and ``recover`` undoes what a crash in between left behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from constitution.atomic import recover_dir, replace_dir
from constitution.errors import InputError
from constitution.reward.checkpoints import CHECKPOINTS_DIR
from constitution.reward.metadata import CATEGORY_FILE, METADATA_FILE, MODEL_CARD, RewardMetadata, write_metadata


def staging_dir(out: Path) -> Path:
    """Where the model for ``out`` is written before ``publish``."""
    return out.with_name(f".{out.name}.saving")


def check_replaceable(out: Path, allowed: Sequence[str]) -> None:
    """Refuse an ``out`` that holds something other than a reward model or the entries named in ``allowed``."""
    if not out.exists() or (out / METADATA_FILE).exists():
        return
    if not out.is_dir() or any(entry.name not in allowed for entry in out.iterdir()):
        raise InputError(
            "exists and is not a reward-model folder; it would be replaced, so pick another --out", where=str(out)
        )


def recover(out: Path) -> None:
    """Clean up after a crash while staging or publishing: bring the old folder back if the new one never arrived."""
    recover_dir(out)
    shutil.rmtree(staging_dir(out), ignore_errors=True)


def publish(out: Path, carry: Sequence[str] = ()) -> None:
    """Swap ``staging_dir(out)`` in at ``out``; the entries named in ``carry`` move over from the old ``out``."""
    replace_dir(staging_dir(out), out, carry)


def write_folder(out: Path, model, tokenizer, meta: RewardMetadata, *, source: Path | None = None) -> None:
    """Write model, tokenizer and metadata as the reward-model folder ``out``: staged, then swapped in atomically.

    ``source``: the folder the model was loaded from (may be ``out``). What it holds besides the model, tokenizer
    and metadata comes along: the safety-category heads (which read the same features) and the model card, and,
    when ``out`` is ``source``, its training checkpoints.
    """
    check_replaceable(out, [])
    recover(out)
    staged = staging_dir(out)
    staged.mkdir(parents=True)
    model.save_pretrained(staged)
    tokenizer.save_pretrained(staged)
    write_metadata(staged, meta)
    kept = [name for name in (CATEGORY_FILE, MODEL_CARD) if source is not None and (source / name).is_file()]
    for name in kept:
        shutil.copy2(source / name, staged / name)
    publish(out, carry=[CHECKPOINTS_DIR] if source is not None and source.resolve() == out.resolve() else [])
