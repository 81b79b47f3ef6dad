"""Refresh: fine-tune the reward model on the gold-labelled policy pairs and swap it into the running reward.

The policy drifts to outputs the reward model never saw; the gold monitor has labelled pairs of exactly those. On the
monitor's alarm (or every M steps), the :class:`Refresher` warm-starts from the model scoring now (its own folder as
the backbone, its head included), trains on every gold-labelled policy pair so far plus a replay share of the original
labels (so the model does not forget what it knew), writes a new versioned folder with ``reward.training.train`` (the
project's reward training: atomic publish, saved normalisation) and swaps the loaded model into the
:class:`~constitution.rl.reward.RewardFunction` between two calls. A per-principle model is refreshed head by head on
the gold judge's per-principle labels (its constitution is needed).

A per-principle refresh keeps the saved model's heads, by id and in their order, whatever the constitution now says
(:data:`SAVED_HEADS`): under the shipped constitution each gold pair is judged by 4 of 24 principles, so some heads
get no new label; they keep their weights exactly (no gradient reaches them and the refresh trains without weight
decay). A head whose principle now has weight 0 stays a head (weight 0 in the reward); a reordered constitution
changes no head's row. The constitution's weights reach the refreshed model when it is loaded, as they reached the
first one. The refresh has no learning-rate warm-up: it resumes a trained model, and with one a refresh of a single
update step would change nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from constitution.data import Pair
from constitution.data.records import FeedbackRecord
from constitution.errors import InputError
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.reward import RewardModel, RewardTrainingConfig
from constitution.reward.head_kinds import KINDS, HeadKind, head_kind, kind_of, register_kind
from constitution.reward.principle_pairs import require_principle_pairs
from constitution.reward.training import train
from constitution.rl.config import RefreshConfig
from constitution.rl.reward import RewardFunction

log = logging.getLogger(__name__)


def _saved_heads(pairs: Sequence[Pair], constitution: Constitution | None) -> list[ResolvedPrinciple]:
    """The refresh's heads: ``constitution`` is :func:`heads_constitution`'s, whose principles are the saved heads."""
    assert constitution is not None
    require_principle_pairs(pairs)
    return list(constitution.principles)


SAVED_HEADS = register_kind(dataclasses.replace(head_kind("per_principle"), name="per_principle_refresh", heads=_saved_heads))
"""Per-principle training that keeps the warm-start folder's heads (ids and order), judged or not."""


def heads_constitution(head_ids: Sequence[str], constitution: Constitution) -> Constitution:
    """``constitution`` with exactly the principles ``head_ids``, in that order: a saved head it lacks gets weight 0."""
    known = {p.id: p for p in constitution.principles}
    absent = dict(set_id="", text="", examples=(), weight=0.0, tags=(), template=None, hash="", where="", critique="", revision="")
    principles = tuple(known[h] if h in known else ResolvedPrinciple(id=h, **absent) for h in head_ids)
    return constitution.model_copy(update={"principles": principles})


class Refresher:
    """Fine-tunes the model of ``reward`` (loaded from ``folder``) into ``out_dir/reward_vN`` and swaps it in."""

    def __init__(
        self,
        reward: RewardFunction,
        folder: str | Path,
        out_dir: str | Path,
        config: RefreshConfig | None = None,
        *,
        replay: Sequence[Pair] = (),
        constitution: Constitution | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(reward.scorer, RewardModel):
            raise InputError("refresh needs one reward model, not an ensemble")
        self.reward = reward
        self.folder = Path(folder)
        self.out_dir = Path(out_dir)
        self.config = config or RefreshConfig()
        self.replay = [p for p in replay if p.p_a is not None]
        self.constitution = constitution
        self.seed = seed
        self.last_step = 0
        self.folders: list[Path] = []
        if head_kind(kind_of(reward.scorer.heads)).needs_constitution and constitution is None:
            raise InputError("refreshing a per-principle reward model needs the constitution of its heads")

    def due(self, step: int, alarm: bool) -> bool:
        """Whether this check should refresh: on the alarm (``on_alarm``), or ``every`` steps after the last one."""
        if alarm and self.config.on_alarm:
            return True
        return bool(self.config.every) and step - self.last_step >= self.config.every

    def training_config(self, model: RewardModel) -> RewardTrainingConfig:
        """The model's own training settings, warm-started from its folder, with the refresh's schedule."""
        meta = model.metadata
        trained = meta.training_config.get("heads")  # the kind it was trained as: a registered kind survives
        if trained not in KINDS:  # no training config, or a kind not registered here: the kind its heads show
            trained = kind_of(meta.heads)
        kind = SAVED_HEADS.name if trained == "per_principle" else trained
        overrides = {
            "base_model": str(self.folder), "pooling": "native", "max_length": meta.max_length,
            "heads": kind, "weight_decay": 0.0, "warmup_ratio": 0.0, "epochs": self.config.epochs,
            "learning_rate": self.config.learning_rate, "batch_size": self.config.batch_size, "eval_fraction": 0.0,
            "checkpoint_steps": 0, "lora": None, "seed": self.seed + len(self.folders),
        }  # fmt: skip
        try:
            return RewardTrainingConfig.model_validate({**meta.training_config, **overrides})
        except ValidationError:  # settings of another version, or none: the defaults with the refresh's schedule
            return RewardTrainingConfig.model_validate(overrides)

    def pairs(self, labelled: Sequence[FeedbackRecord], kind: HeadKind) -> list[Pair]:
        """The gold-labelled policy pairs (as ``kind`` trains on them) and the replayed original labels, shuffled."""
        rng = random.Random(self.seed + len(self.folders))
        fresh = [kind.record_pair(r) for r in labelled]
        count = min(len(self.replay), round(self.config.replay * len(fresh)))
        replayed = rng.sample(self.replay, count)
        out = fresh + replayed
        rng.shuffle(out)
        return out

    def refresh(self, labelled: Sequence[FeedbackRecord], step: int = 0) -> int | None:
        """Fine-tune on ``labelled`` (+ replay) and swap the new model in; its version, or None when there are fewer
        than ``min_pairs`` labelled pairs."""
        self.last_step = step
        if len(labelled) < self.config.min_pairs:
            log.info("refresh skipped: %d gold-labelled pairs < min_pairs %d", len(labelled), self.config.min_pairs)
            return None
        model = self.reward.scorer
        assert isinstance(model, RewardModel)
        config = self.training_config(model)
        kind = head_kind(config.heads)
        out = self.out_dir / f"reward_v{self.reward.version + 1}"
        heads = heads_constitution(model.heads, self.constitution) if kind.needs_constitution and self.constitution else None
        result = train(config, self.pairs(labelled, kind), out, train_data=f"refresh of {self.folder}", constitution=heads)
        fresh = RewardModel.load(out, device=str(model.device), constitution=self.constitution if kind.needs_constitution else None)
        version = self.reward.swap(fresh)
        self.folder = out
        self.folders.append(out)
        log.info("reward model refreshed to version %d (%s) on %d pairs", version, out, result.train_pairs)
        return version
