"""The pipeline's YAML config (``--config FILE``); ``--print-config`` shows every field with its default."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from constitution.errors import InputErrors
from constitution.feedback.base import JudgeConfig
from constitution.generation import GenerationConfig
from constitution.labeling import LabelConfig
from constitution.reward.config import RewardTrainingConfig
from constitution.yaml_lines import load_located_yaml, validate_located

ROOT = Path(__file__).resolve().parents[2]
HH_TEST = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"


class PipelineConfig(BaseModel):
    """prompts -> (generate pairs) -> AI feedback -> reward model -> evaluation -> report."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str = Field("runs/demo", description="folder for every stage's output; re-runs reuse what is up to date")
    prompts: str | None = Field(
        str(ROOT / "pipelines" / "demo_prompts.jsonl"),
        description="prompts for the policy to answer (JSONL/CSV/TXT/Parquet with a `prompt` column); used when `pairs` is unset",
    )
    pairs: str | None = Field(
        None,
        description="existing pairs to label instead of generating: a file, `datasets` folder or hub id, incl. HH-RLHF",
    )
    pairs_limit: int | None = Field(None, ge=1, description="label at most this many pairs")
    constitution: str = Field(str(ROOT / "principles"), description="principles folder or file")
    generation: GenerationConfig = Field(
        default_factory=lambda: GenerationConfig(max_tokens=48, temperature=1.0, batch_size=32),
        description="the policy and how it samples (two responses per prompt make a pair)",
    )
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="the feedback model: backend, model, endpoints")
    labeling: LabelConfig = Field(default_factory=LabelConfig, description="orders, chain-of-thought, batch size")
    training: RewardTrainingConfig = Field(
        default_factory=lambda: RewardTrainingConfig(epochs=3, eval_fraction=0.0),
        description="the reward model and how it is trained on the AI labels",
    )
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share of labelled pairs held out to test the reward model")
    human_eval: str | None = Field(
        str(HH_TEST) if HH_TEST.exists() else None,
        description="human-labelled pairs (e.g. HH-RLHF harmless test) to check the reward model against people",
    )
    human_eval_limit: int = Field(256, ge=1, description="how many human pairs to evaluate on (a seed-0 sample)")
    seed: int = Field(0, description="seed of the train/test split and the human-eval sample")


def load_config(path: str | Path) -> PipelineConfig:
    """Read a YAML config; errors name file:line and the key."""
    doc = load_located_yaml(Path(path))
    config, errors = validate_located(PipelineConfig, doc)
    if errors:
        raise InputErrors(errors)
    return config  # type: ignore[return-value]


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
            dumped = yaml.safe_dump({name: current.model_dump() if isinstance(current, BaseModel) else current}, sort_keys=False, default_flow_style=False)
            lines.extend(pad + line for line in dumped.rstrip().splitlines())
    return lines


def config_yaml(config: PipelineConfig) -> str:
    """The config as commented YAML (what --print-config shows)."""
    return "\n".join(_described(PipelineConfig, config)) + "\n"
