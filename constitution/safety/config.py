"""The safety commands' settings (light: pydantic only, so ``--help`` imports no model or metrics library)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.errors import InputError


class ScorerConfig(BaseModel):
    """The scorer's own settings (reward mode; judge mode takes its judge's config)."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(64, ge=1, description="reward mode: responses per forward pass")


class ClassifyConfig(BaseModel):
    """How ``classify`` decides."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        None, ge=0, le=1, description="unsafe if score >= T, in [0, 1]: 0 flags every row (default: calibrated, else the model's, else 0.5)"
    )
    target_fpr: float | None = Field(None, ge=0, lt=1, description="calibration target false-positive rate (default 0.05)")
    target_precision: float | None = Field(None, gt=0, le=1, description="calibration target precision")
    categories: bool = Field(
        False,
        description="also score each policy category for unsafe rows: judge mode asks the judge; reward mode uses the "
        "model's category heads (fitted by `constitution train INPUT --out RM --category-labels JUDGED`)",
    )
    limit: int | None = Field(None, ge=1, description="classify only the first N rows")

    @model_validator(mode="after")
    def _one_target(self) -> ClassifyConfig:
        if self.target_fpr is not None and self.target_precision is not None:
            raise ValueError("give target_fpr or target_precision, not both")
        return self


class SafetyEvalConfig(BaseModel):
    """What ``eval-safety`` evaluates on, and how."""

    model_config = ConfigDict(extra="forbid")

    moderation: str | None = Field(None, description="OpenAI moderation samples (JSONL, e.g. samples-1680.jsonl.gz)")
    xstest: str | None = Field(None, description="XSTest prompts (xstest_prompts.csv)")
    limit: int | None = Field(None, ge=1, description="evaluate a seeded sample of at most N labelled rows per set")
    threshold: float | None = Field(None, ge=0, le=1, description="decision threshold, in [0, 1] (default: the model's, else 0.5)")

    def check_files(self) -> None:
        """At least one set, and each one given exists."""
        if not (self.moderation or self.xstest):
            raise InputError("give --moderation FILE and/or --xstest FILE (the evaluation sets are not bundled)")
        for path in (self.moderation, self.xstest):
            if path and not Path(path).exists():
                raise InputError("no such file", where=path)
