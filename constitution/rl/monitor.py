"""The gold monitor: a wrapper around an RL reward function that checks the proxy against a gold judge.

GRPO samples several completions per prompt, so every batch the reward function sees already holds pairs of the
policy's own answers to one prompt: no extra generation. Checks are numbered by the trainer's step that the batch
trains (TRL's ``global_step + 1``: the step its logs show; without a trainer, the call's number, from 1). Every
``every`` steps the monitor takes up to ``pairs`` such pairs, has the gold judge label them through the labeler (and
its judgment cache), and records:

* ``agreement``: the share of pairs (gold not tied) where the proxy's higher reward goes to the gold's choice
  (an exact proxy tie counts ½);
* ``proxy_reward``: the batch's mean un-normalised combined reward (the reward function's ``raw`` where it has one:
  neither a group normalisation nor a refreshed model's statistics move it);
* ``length`` (tokens when the trainer passes completion ids, else words) of the batch;
* ``seq_kl``, the KL to the reference policy per sequence (sum over tokens, mean over completions), and
  ``kl_per_token``, TRL's token-weighted mean, as TRL last logged them (the previous step's; the callback passes them;
  None without one or with beta 0);
* ``gold_win_rate``: the policy's greedy answers against the reference policy's on fixed prompts, by the gold judge
  (when a callback set up ``win_rate``);
* ``agreement_upper``: the agreement's one-sided upper confidence bound (:mod:`constitution.rl.alarm`);
* ``alarm``: at least ``min_decisive`` decisive pairs and ``agreement_upper`` below ``threshold``.

A check whose gold judge is down (the labeler's FeedbackError) is logged and counted (``failed_checks``); training
goes on. So does a refresh that fails (whatever the error: the reward model scoring now stays): the check's record
carries the error (``refresh_error``) and ``failed_refreshes`` counts it. Each check goes to :attr:`GoldMonitor.records`,
to TRL's logs through its ``log_metric`` hook (``gold/…``; it reaches ``report_to``) and to a JSONL file, written and
flushed as the check ends. The monitor starts that file empty: a rerun into the same folder replaces its records, as
it replaces ``log.jsonl`` and ``result.json``. A :class:`~constitution.rl.refresh.Refresher` given to the monitor
fine-tunes the reward model on the gold-labelled pairs on the alarm or every M steps and swaps it into the reward
function.

Under a multi-process launcher (``WORLD_SIZE`` > 1) only the main process (rank 0) checks, on its share of each
batch, and writes the records; the other ranks' monitors pass the rewards through and never ask the gold judge. What
would need the ranks to agree is refused with an InputError: a refresh (each rank scores with its own copy of the
reward model), ``stop_on_alarm`` (one rank would stop alone) and the win-rate probe (a generation on one rank).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from constitution.data import Pair, as_messages
from constitution.data.records import FeedbackRecord
from constitution.errors import InputError
from constitution.labeling import Labeler, label_pairs
from constitution.llm.base import FeedbackError
from constitution.rl.alarm import alarm as alarm_on
from constitution.rl.alarm import upper_bound
from constitution.rl.config import MonitorConfig
from constitution.rl.ranks import Ranks, launch_ranks
from constitution.rl.reward import completion_text

log = logging.getLogger(__name__)


class MonitorRecord(BaseModel):
    """One gold check."""

    model_config = ConfigDict(extra="forbid")

    def line(self) -> str:
        """The check in one console line, in the record's own terms."""
        agree = "n/a" if self.agreement is None else f"{self.agreement:.2f}"
        upper = "" if self.agreement_upper is None else f" (upper bound {self.agreement_upper:.2f})"
        refresh = f"; refreshed to version {self.refreshed_to}" if self.refreshed_to is not None else ""
        refresh += f"; refresh failed: {self.refresh_error}" if self.refresh_error else ""
        return (
            f"gold check at step {self.step}: agreement {agree}{upper} on {self.decisive} decisive of {self.pairs} "
            f"labelled pairs{' ALARM' if self.alarm else ''}{refresh}"
        )

    step: int
    pairs: int
    decisive: int
    agreement: float | None
    agreement_upper: float | None = None
    proxy_reward: float
    length: float
    seq_kl: float | None = None
    kl_per_token: float | None = None
    gold_win_rate: float | None = None
    alarm: bool
    reward_version: int
    refreshed_to: int | None = None
    refresh_error: str | None = None
    failed_pairs: int = 0


class RewardFn(Protocol):
    """A TRL reward function (with a ``version`` when its model can be swapped)."""

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kw: Any) -> list[float]: ...


class Refreshes(Protocol):
    """What the monitor asks of a refresher."""

    def due(self, step: int, alarm: bool) -> bool: ...
    def refresh(self, labelled: Sequence[FeedbackRecord], step: int = 0) -> int | None: ...


def agreement(proxy: Sequence[tuple[float, float]], gold_p_a: Sequence[float], margin: float) -> tuple[float | None, int]:
    """Share of pairs where the proxy's higher reward goes to the gold's choice (proxy tie: ½), over the pairs whose
    gold ``p_a`` is more than ``margin`` from ½; and how many those are."""
    scores = []
    for (r_a, r_b), p in zip(proxy, gold_p_a):
        if abs(p - 0.5) <= margin:
            continue
        scores.append(0.5 if r_a == r_b else float((r_a > r_b) == (p > 0.5)))
    return (sum(scores) / len(scores) if scores else None), len(scores)


def _refuse_multi_process(config: MonitorConfig, refresher: Refreshes | None, ranks: Ranks) -> None:
    """InputError for what several training processes cannot do with one monitor each (see the module docstring)."""
    asked = [name for name, on in (("refresh", refresher is not None), ("stop_on_alarm", config.stop_on_alarm),
             ("win_rate_prompts", config.win_rate_prompts > 0)) if on]  # fmt: skip
    if asked:
        raise InputError(
            f"the gold monitor's {', '.join(asked)} needs one training process, and the launcher started "
            f"{ranks.world_size} (WORLD_SIZE): each would refresh, stop or generate alone. Run with one process, or "
            "monitor without them (only rank 0 checks)"
        )


class GoldMonitor:
    """Wraps ``reward`` (same TRL signature and name); see the module docstring."""

    def __init__(
        self,
        reward: RewardFn,
        labeler: Labeler,
        config: MonitorConfig | None = None,
        *,
        jsonl: str | Path | None = None,
        refresher: Refreshes | None = None,
    ) -> None:
        self.reward = reward
        self.labeler = labeler
        self.config = config or MonitorConfig()
        self.ranks = launch_ranks()
        if self.ranks.world_size > 1:
            _refuse_multi_process(self.config, refresher, self.ranks)
        self.jsonl = Path(jsonl) if jsonl and self.ranks.main else None
        if self.jsonl is not None:  # this run's records only
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
            self.jsonl.write_text("", encoding="utf-8")
        self.refresher = refresher
        self.__name__ = getattr(reward, "__name__", "reward")
        self.records: list[MonitorRecord] = []
        self.labelled: list[FeedbackRecord] = []
        self.alarm = False
        self.last_kl: float | None = None
        self.last_seq_kl: float | None = None
        self.win_rate: Callable[[], float | None] | None = None
        self.calls = 0
        self.failed_checks = 0
        self.failed_refreshes = 0
        self._next_check = 0
        self._rng = random.Random(self.config.seed)

    @property
    def version(self) -> int:
        return int(getattr(self.reward, "version", 0))

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kw: Any) -> list[float]:
        rewards = self.reward(prompts, completions, **kw)
        state = kw.get("trainer_state")
        self.calls += 1
        step = int(state.global_step) + 1 if state is not None else self.calls  # the step this batch trains
        if self.ranks.main and step >= self._next_check:
            self._next_check = step + self.config.every
            try:
                self.check(step, prompts, completions, rewards, completion_ids=kw.get("completion_ids"), log_metric=kw.get("log_metric"))
            except FeedbackError as exc:  # the gold judge is down: training goes on, the next check tries again
                self.failed_checks += 1
                log.error("gold check at step %d failed: %s", step, exc)
        return rewards

    def pairs(self, step: int, prompts: Sequence[Any], completions: Sequence[Any]) -> list[tuple[Pair, int, int]]:
        """Up to ``pairs`` pairs of different completions to one prompt (``pairs_per_group`` per prompt), in random
        A/B order: (pair, index of A, index of B)."""
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(repr(p), []).append(i)
        texts = [completion_text(c) for c in completions]
        chosen: list[tuple[Pair, int, int]] = []
        keys = list(groups)
        self._rng.shuffle(keys)
        for key in keys:
            rows = groups[key]
            candidates = [(i, j) for n, i in enumerate(rows) for j in rows[n + 1 :] if texts[i] != texts[j]]
            self._rng.shuffle(candidates)
            for i, j in candidates[: self.config.pairs_per_group]:
                if self._rng.random() < 0.5:
                    i, j = j, i
                pair = Pair(id=f"step{step}-{i}-{j}", prompt=as_messages(prompts[i]), response_a=texts[i], response_b=texts[j])
                chosen.append((pair, i, j))
                if len(chosen) == self.config.pairs:
                    return chosen
        return chosen

    def check(
        self,
        step: int,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        rewards: Sequence[float],
        *,
        completion_ids: Sequence[Sequence[int]] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
    ) -> MonitorRecord:
        """Label pairs of this batch with the gold judge and record the check (see the module docstring)."""
        chosen = self.pairs(step, prompts, completions)
        records, summary = label_pairs(self.labeler, [pair for pair, _, _ in chosen])
        by_id = {r.id: r for r in records}
        labelled = [(by_id[pair.id], i, j) for pair, i, j in chosen if pair.id in by_id]
        self.labelled.extend(r for r, _, _ in labelled)
        agree, decisive = agreement([(rewards[i], rewards[j]) for _, i, j in labelled], [r.p_a for r, _, _ in labelled], self.config.min_gold_margin)
        raw = getattr(self.reward, "raw", None)
        proxy = raw(prompts, completions) if raw is not None else rewards
        lengths = [len(ids) for ids in completion_ids] if completion_ids is not None else [len(completion_text(c).split()) for c in completions]
        alarm = alarm_on(agree, decisive, self.config)
        upper = upper_bound(agree, decisive, self.config.confidence) if agree is not None else None
        record = MonitorRecord(
            step=step, pairs=len(labelled), decisive=decisive, agreement=agree, agreement_upper=upper,
            proxy_reward=sum(proxy) / len(proxy), length=sum(lengths) / len(lengths), seq_kl=self.last_seq_kl, kl_per_token=self.last_kl,
            gold_win_rate=self.win_rate() if self.win_rate is not None else None, alarm=alarm,
            reward_version=self.version, failed_pairs=summary.pairs_failed,
        )  # fmt: skip
        if alarm:
            self.alarm = True
            log.warning(
                "gold monitor alarm at step %d: proxy–gold agreement %.2f (upper bound %.2f) < %.2f on %d decisive pairs",
                step, agree, upper, self.config.threshold, decisive,
            )  # fmt: skip
        if self.refresher is not None and self.refresher.due(step, alarm):
            self._refresh(record)
        self._emit(record, log_metric)
        return record

    def _refresh(self, record: MonitorRecord) -> None:
        """Refresh on the pairs labelled so far; a failure is logged in ``record`` and training goes on."""
        assert self.refresher is not None
        try:
            record.refreshed_to = self.refresher.refresh(self.labelled, record.step)
        except Exception as exc:  # noqa: BLE001 - any failed refresh leaves the current model scoring: the run goes on
            self.failed_refreshes += 1
            record.refresh_error = f"{type(exc).__name__}: {exc}"
            log.exception("refresh at step %d failed; the reward model of version %d keeps scoring", record.step, self.version)

    def _emit(self, record: MonitorRecord, log_metric: Callable[[str, float], None] | None) -> None:
        self.records.append(record)
        if self.jsonl is not None:  # one record at a time, flushed: a crash later keeps every check before it
            with self.jsonl.open("a", encoding="utf-8") as f:
                f.write(record.model_dump_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
        if log_metric is not None:
            for name in ("agreement", "proxy_reward", "length", "gold_win_rate"):
                value = getattr(record, name)
                if value is not None:
                    log_metric(f"gold/{name}", float(value))
            log_metric("gold/alarm", float(record.alarm))
            log_metric("gold/reward_version", float(self.version))
