"""RL settings (pydantic): the GRPO run, the gold monitor and the reward-model refresh; the CLI's flags come from
these fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.llm.config import LLMConfig
from constitution.embedded_models import JUDGE_ALIAS


class MonitorConfig(BaseModel):
    """The gold monitor: every N steps, pairs of the policy's own completions are labelled by the gold judge."""

    model_config = ConfigDict(extra="forbid")

    every: int = Field(10, ge=1, description="Steps between gold checks (the reward function's calls without a trainer).")
    pairs: int = Field(32, ge=1, description="Most pairs of completions the gold judge labels per check.")
    pairs_per_group: int = Field(2, ge=1, description="Most pairs taken from one prompt's group of completions.")
    threshold: float = Field(
        0.6, ge=0, le=1,
        description="Alarm when the proxy–gold agreement is below this with confidence (its one-sided upper bound is).",
    )  # fmt: skip
    min_decisive: int = Field(
        20, ge=1, description="No alarm from a check with fewer decisive pairs (gold not tied) than this."
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1,
        description="Confidence of the alarm's bound: a check alarms with chance at most 1 − this while the true "
        "agreement is at or above the threshold.",
    )  # fmt: skip
    min_gold_margin: float = Field(
        0.05, ge=0, lt=0.5, description="A pair whose gold p_a is within this of 0.5 is a tie: not counted in agreement."
    )
    win_rate_prompts: int = Field(
        0, ge=0,
        description="Fixed prompts on which the policy's greedy answer is judged against the reference policy's at "
        "each check (costs one greedy generation per prompt and check; 0: off).",
    )  # fmt: skip
    win_rate_max_tokens: int = Field(64, ge=1, description="Greedy answer length for the gold win rate.")
    stop_on_alarm: bool = Field(False, description="Stop training at the first alarm (the callback sets should_training_stop).")
    seed: int = Field(0, description="Seed for choosing the pairs.")


class RefreshConfig(BaseModel):
    """Warm-start fine-tuning of the reward model on the gold-labelled policy pairs, swapped into the reward."""

    model_config = ConfigDict(extra="forbid")

    on_alarm: bool = Field(True, description="Refresh when the monitor's alarm fires.")
    every: int = Field(0, ge=0, description="Also refresh every M steps (0: only on the alarm).")
    replay: float = Field(
        0.5, ge=0, description="Original labels replayed, as a share of the policy pairs (0.5: one per two pairs)."
    )
    replay_data: str | None = Field(None, description="The reward model's original labels (pairs file or folder) to replay.")
    min_pairs: int = Field(8, ge=1, description="Refresh only once this many gold-labelled policy pairs are collected.")
    epochs: float = Field(3.0, gt=0, description="Passes over the refresh pairs.")
    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate of the fine-tuning.")
    batch_size: int = Field(8, ge=1, description="Pairs per step.")


class RLConfig(BaseModel):
    """GRPO (TRL) of a policy against a reward model, on prompts."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field(JUDGE_ALIAS, description="Policy: an embedded alias, a local causal-LM folder or a hub id.")
    reward_model: list[str] = Field(min_length=1, description="Reward model folder (repeat: an ensemble's conservative reward).")
    ensemble_k: float = Field(1.0, ge=0, description="Ensemble: the reward is mean − k·std of the members.")
    prompts: str | None = Field(None, description="Prompts file (a `prompt` column, or .txt); None: the packaged demo prompts.")
    prompt_limit: int | None = Field(None, ge=1, description="Use the first N prompts.")
    steps: int = Field(12, ge=1, description="GRPO updates.")
    prompts_per_step: int = Field(2, ge=1, description="Prompts per update (each sampled num_generations times).")
    num_generations: int = Field(4, ge=2, description="Completions per prompt: the GRPO group.")
    max_new_tokens: int = Field(32, ge=1, description="Longest completion, in tokens.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the policy.")
    learning_rate: float = Field(2e-5, gt=0, description="Policy learning rate.")
    beta: float = Field(0.04, ge=0, description="KL penalty to the reference (initial) policy; >0 also logs the KL.")
    rewards: Literal["combined", "per_principle"] = Field(
        "combined",
        description="'per_principle' (a per-principle reward model): one TRL reward function per principle, weighted "
        "by the constitution, beside the combined one (logged); 'combined': the combined reward only.",
    )
    aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = Field(
        "sum_then_normalize",
        description="With per-principle rewards: 'normalize_then_sum' normalises each principle within its GRPO group "
        "before weighting them (decoupled normalisation); 'sum_then_normalize' gives the combined reward's advantages.",
    )
    bf16: bool | None = Field(None, description="bf16 training; None: where the hardware computes it natively.")
    report_to: list[str] = Field(default_factory=list, description="Trainer loggers (tensorboard, wandb, ...).")
    seed: int = Field(0, description="Seed of the trainer and of the prompt order.")
    save_policy: bool = Field(False, description="Save the trained policy to OUT/policy.")
    gold_judge: LLMConfig | None = Field(None, description="The gold judge of the monitor (None: no monitor).")
    monitor: MonitorConfig = Field(default_factory=MonitorConfig, description="Gold monitor settings.")
    refresh: RefreshConfig | None = Field(None, description="Refresh the reward model as the policy moves (needs the monitor).")
