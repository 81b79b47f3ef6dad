"""``run_grpo`` (``constitution rl``): GRPO of a policy against the reward model with TRL, the gold monitor wired in.

The prompts are the config's file, or the demo prompts shipped with the package. The reward is the combined one, or
with ``rewards: per_principle`` one TRL reward function per principle weighted by the constitution (and the combined
one, logged). With a gold judge, the combined reward function is wrapped in a :class:`GoldMonitor` (``monitor.jsonl``
in the output folder) and a :class:`Refresher` when ``refresh`` is set. Writes ``log.jsonl`` (TRL's log per step) and
``result.json``; ``log.jsonl`` is written step by step (:class:`~constitution.rl.step_log.StepLog`: a run cut short
keeps its steps), and each row carries TRL's per-token ``kl`` as ``kl_per_token`` and the per-sequence
``seq_kl`` beside it (:mod:`constitution.rl.kl`); ``save_policy`` keeps the trained policy in ``policy/``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from constitution.atomic import atomic_write_text
from constitution.data import load_pairs
from constitution.errors import InputError
from constitution.generation import PromptItem, load_prompts
from constitution.principles import Constitution
from constitution.resources import demo_prompts
from constitution.reward.metadata import read_metadata
from constitution.rl.config import RLConfig
from constitution.rl.kl import with_kl_names
from constitution.rl.monitor import GoldMonitor, MonitorRecord
from constitution.rl.principles import PrincipleRewards
from constitution.rl.ranks import launch_ranks
from constitution.rl.refresh import Refresher
from constitution.rl.reward import RewardFunction

log = logging.getLogger(__name__)


class RLResult(BaseModel):
    """What a run did: TRL's log per step, the gold checks, the reward model's final version."""

    model_config = ConfigDict(extra="forbid")

    out_dir: str
    steps: int
    seconds: float
    log: list[dict[str, Any]]
    monitor: list[MonitorRecord]
    reward_version: int
    policy_dir: str | None = None


def rl_prompts(config: RLConfig) -> list[PromptItem]:
    """The config's prompts, or the packaged demo prompts (read from the installed package, not a checkout)."""
    items = load_prompts(config.prompts or demo_prompts())
    return items[: config.prompt_limit] if config.prompt_limit else items


def _headed(folder: str) -> bool:
    meta = read_metadata(folder) if Path(folder).is_dir() else None
    return bool(meta and meta.heads)


def reward_funcs(config: RLConfig, reward: RewardFunction) -> tuple[list[Any], list[float] | None, Any]:
    """TRL's reward functions and weights, and the combined function (the one the monitor wraps)."""
    if config.rewards == "per_principle":
        principles = PrincipleRewards(reward)
        return principles.functions(), principles.trl_weights(config.aggregation), principles
    if config.aggregation == "normalize_then_sum" and _headed(config.reward_model[0]):
        combined = PrincipleRewards(reward, group_normalize=True)  # decoupled normalisation inside one function
        return [combined], None, combined
    return [reward], None, reward


def grpo_args(config: RLConfig, out: Path, weights: list[float] | None):
    """TRL's GRPOConfig for the RL config (bf16 only where native; CPU when there is no GPU)."""
    import torch
    from trl import GRPOConfig

    from constitution.devices import bf16_supported

    cuda = torch.cuda.is_available()
    bf16 = bf16_supported(torch.device("cuda" if cuda else "cpu")) if config.bf16 is None else config.bf16
    extra = {"multi_objective_aggregation": config.aggregation} if config.rewards == "per_principle" else {}
    return GRPOConfig(
        output_dir=str(out / "trainer"), use_cpu=not cuda, bf16=bf16, max_steps=config.steps,
        learning_rate=config.learning_rate, per_device_train_batch_size=config.prompts_per_step * config.num_generations,
        num_generations=config.num_generations, max_completion_length=config.max_new_tokens,
        temperature=config.temperature, beta=config.beta, logging_steps=1, report_to=config.report_to,
        save_strategy="no", seed=config.seed, reward_weights=weights, **extra,
    )  # fmt: skip


def check_alarm_reach(config: RLConfig) -> None:
    """The gold alarm needs ``min_decisive`` decisive pairs in one check, and a check labels at most ``pairs`` pairs,
    ``pairs_per_group`` from each of a step's ``prompts_per_step`` groups: when that is fewer, the alarm can never
    fire. An InputError when what was asked acts only on the alarm (a refresh with no ``every``, ``stop_on_alarm``);
    a warning otherwise."""
    m, g = config.monitor, config.num_generations
    most = min(m.pairs, config.prompts_per_step * min(m.pairs_per_group, g * (g - 1) // 2))
    if most >= m.min_decisive:
        return
    why = (
        f"the gold alarm needs {m.min_decisive} decisive pairs in one check (--monitor-min-decisive), and a check "
        f"labels at most {most} (--monitor-pairs {m.pairs}; --prompts-per-step {config.prompts_per_step} groups x "
        f"--monitor-pairs-per-group {m.pairs_per_group}), so it can never fire; raise those or lower "
        "--monitor-min-decisive"
    )
    refresh = config.refresh
    idle = [name for name, on in (("--refresh on the alarm only (no --refresh-every)", refresh is not None and not refresh.every),
            ("--monitor-stop-on-alarm", m.stop_on_alarm)) if on]  # fmt: skip
    if idle:
        raise InputError(f"{' and '.join(idle)} would never act: {why}")
    log.warning("%s", why)


def _monitor(config: RLConfig, reward: RewardFunction, combined: Any, out: Path, gold: Constitution, constitution: Constitution | None) -> GoldMonitor:
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.llm.factory import make_llm
    from constitution.reward import load_principle_pairs

    assert config.gold_judge is not None
    check_alarm_reach(config)
    refresher = None
    if config.refresh is not None:
        replay = []
        if config.refresh.replay_data:
            headed = _headed(config.reward_model[0])
            replay = load_principle_pairs(config.refresh.replay_data) if headed else load_pairs(config.refresh.replay_data)[0]
        refresher = Refresher(reward, config.reward_model[0], out, config.refresh, replay=replay, constitution=constitution or (gold if _headed(config.reward_model[0]) else None), seed=config.seed)
    # Started now on the rank that checks (not at the first check, inside TRL): before the policy takes the GPU's
    # memory, and a judge that cannot start fails the run before training.
    judge = make_llm(config.gold_judge, lazy=not launch_ranks().main)
    labeler = Labeler(gold, judge, JudgmentCache(out / "gold_judgments.sqlite"))
    return GoldMonitor(combined, labeler, config.monitor, jsonl=out / "monitor.jsonl", refresher=refresher)


def run_grpo(
    config: RLConfig, out_dir: str | Path, *, constitution: Constitution | None = None, gold: Constitution | None = None
) -> RLResult:
    """Train ``config.policy`` with GRPO against the reward model; see the module docstring.

    ``constitution`` weighs a per-principle model's heads (None: its training weights); ``gold`` is the gold judge's
    constitution (needed with ``config.gold_judge``).
    """
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from constitution.embedded_models import resolve_model
    from constitution.rl.callback import MonitorCallback
    from constitution.rl.step_log import StepLog

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    heads = constitution if _headed(config.reward_model[0]) else None
    reward = RewardFunction.load(config.reward_model, k=config.ensemble_k, constitution=heads)
    funcs, weights, combined = reward_funcs(config, reward)
    prompts = rl_prompts(config)
    monitor = None
    callbacks: list[Any] = [StepLog(out / "log.jsonl")]
    if config.gold_judge is not None:
        if gold is None:
            raise ValueError("a gold judge needs its constitution (gold=)")
        monitor = _monitor(config, reward, combined, out, gold, heads)
        funcs = [monitor if f is combined else f for f in funcs]
        callbacks.append(MonitorCallback(monitor, [p.messages for p in prompts[: config.monitor.win_rate_prompts]]))
    path = resolve_model(config.policy)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    data = datasets.Dataset.from_list([{"prompt": [m.model_dump() for m in p.messages]} for p in prompts])
    trainer = GRPOTrainer(
        model=model, reward_funcs=funcs, args=grpo_args(config, out, weights), train_dataset=data,
        processing_class=tokenizer, callbacks=callbacks,
    )  # fmt: skip
    try:
        trainer.train()
    finally:
        if monitor is not None:
            monitor.labeler.llm.close()
    log = [with_kl_names(h) for h in trainer.state.log_history if "reward" in h]
    policy_dir = None
    if config.save_policy:
        policy_dir = str(out / "policy")
        trainer.save_model(policy_dir)
        tokenizer.save_pretrained(policy_dir)
    result = RLResult(
        out_dir=str(out), steps=int(trainer.state.global_step), seconds=time.perf_counter() - started, log=log,
        monitor=monitor.records if monitor else [], reward_version=reward.version, policy_dir=policy_dir,
    )  # fmt: skip
    atomic_write_text(out / "result.json", result.model_dump_json(indent=2))
    return result
