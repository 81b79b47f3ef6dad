"""The pipeline's YAML config (``--config FILE``); ``--print-config`` shows every field with its default."""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.audit.records import AuditSettings
from constitution.generation import GenerationConfig
from constitution.labeling.config import LabelConfig
from constitution.labeling.jury.config import JudgeSpec, check_quorum
from constitution.llm.config import LLMConfig, RayConfig, VllmConfig
from constitution.reward.config import RewardTrainingConfig


class AuditStageConfig(AuditSettings):
    """The audit stage: the shipped counterfactual probes (or ``probes``) over the held-out pairs' responses (or
    ``responses``)."""

    limit: int | None = Field(256, ge=1, description="audit at most this many responses")
    responses: str | None = Field(
        None,
        description="responses to audit (rows with `prompt`, `response` and an optional boolean `safe`, as `constitution "
        "audit` reads them); default: both responses of every held-out test pair, whose prompts' safety is unknown "
        "(they are marked unsafe: the probes for safe prompts only, refusal boilerplate, are not asked of them)",
    )
    probes: str | None = Field(None, description="probes YAML (default: the shipped set)")


class PipelineConfig(BaseModel):
    """prompts -> (generate pairs) -> AI feedback -> reward model -> evaluation -> audit -> report."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str = Field("runs/demo", description="folder for every stage's output; re-runs reuse what is up to date")
    prompts: str | None = Field(
        None,
        description="prompts for the policy to answer (JSONL/CSV/TXT/Parquet with a `prompt` column); used when `pairs` "
        "is unset; default: the embedded demo's 156 prompts (shipped with the package)",
    )
    pairs: str | None = Field(
        None,
        description="existing pairs to label instead of generating: a file, `datasets` folder or hub id, incl. HH-RLHF",
    )
    pairs_limit: int | None = Field(None, ge=1, description="label at most this many pairs")
    constitution: str | None = Field(
        None, description="principles folder or file; default: ./principles when it exists, else the constitution shipped with the package"
    )
    generation: GenerationConfig = Field(
        default_factory=lambda: GenerationConfig(max_tokens=48, temperature=1.0, batch_size=32),
        description="the policy and how it samples (two responses per prompt make a pair)",
    )
    judge: LLMConfig = Field(
        default_factory=VllmConfig, description="the feedback model: backend, model, endpoints (unused with `judges`)"
    )
    judges: list[JudgeSpec] | None = Field(
        None,
        min_length=1,
        description="a jury instead of `judge`: a list of judges, each with backend, model, endpoints and `weight` "
        "(and `name`, its folder under labels/judges/); every judge labels every pair, the labels are their weighted mean",
    )
    quorum: int | None = Field(None, ge=1, description="with `judges`: judges that must label a pair for it to be labelled (default: all)")
    engine: Literal["local", "ray"] = Field("local", description="judge in this process (local) or on Ray actors (ray)")
    ray: RayConfig = Field(default_factory=RayConfig, description="the Ray actors, with engine: ray")
    labeling: LabelConfig = Field(default_factory=LabelConfig, description="orders, chain-of-thought, chunking")
    training: RewardTrainingConfig = Field(
        default_factory=lambda: RewardTrainingConfig(epochs=3, eval_fraction=0.0),
        description="the reward model and how it is trained on the AI labels",
    )
    test_fraction: float = Field(
        0.2, ge=0.0, lt=1.0,
        description="share of labelled pairs held out to test the reward model (whole prompts, chosen by a hash of the prompt and seed)",
    )
    human_eval: str | None = Field(
        None, description="human-labelled pairs (e.g. HH-RLHF harmless test) to check the reward model against people"
    )
    human_eval_limit: int = Field(256, ge=1, description="how many human pairs to evaluate on (a seed-0 sample)")
    audit: AuditStageConfig = Field(
        default_factory=AuditStageConfig, description="the reward audit of the trained model (its section of the report)"
    )
    seed: int = Field(0, description="seed of the train/test split and the human-eval sample")

    @model_validator(mode="after")
    def _one_way_to_judge(self) -> PipelineConfig:
        if self.judges is not None and self.judge != VllmConfig():
            raise ValueError("give `judge` (one judge) or `judges` (a jury), not both: leave `judge` at its default")
        check_quorum(self.quorum, len(self.jury()))
        return self

    def jury(self) -> list[JudgeSpec]:
        """The judges: those of `judges`, else `judge` alone."""
        return self.judges or [JudgeSpec(llm=self.judge)]


def _described(model: type[BaseModel], value: BaseModel, indent: int = 0) -> list[str]:
    lines = []
    pad = "  " * indent
    for name, field in model.model_fields.items():
        if field.description:
            lines.append(f"{pad}# {field.description}")
        current = getattr(value, name)
        if isinstance(current, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.extend(_described(type(current), current, indent + 1))
        else:
            dumped = yaml.safe_dump(value.model_dump(include={name}), sort_keys=False, default_flow_style=False)
            lines.extend(pad + line for line in dumped.rstrip().splitlines())
    return lines


def config_yaml(config: PipelineConfig) -> str:
    """The config as commented YAML (what --print-config shows)."""
    return "\n".join(_described(PipelineConfig, config)) + "\n"
