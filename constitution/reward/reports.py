"""The reward model's evaluation records (what ``constitution eval`` prints, the pipeline's ``eval/eval.json`` and
``eval/heads.json``): pydantic only, so reports read them without loading torch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Bin(BaseModel):
    """One reliability bin: pairs whose confidence fell in [lo, hi) (a reward tie has confidence 0.5 and counts
    half correct)."""

    lo: float
    hi: float
    n: int
    confidence: float
    accuracy: float


class Split(BaseModel):
    """Accuracy on a subset of the pairs."""

    n: int
    accuracy: float | None


class EvalReport(BaseModel):
    """What ``constitution eval`` prints (one JSON object)."""

    model_config = ConfigDict(extra="allow")

    n: int
    accuracy: float | None
    ece: float | None
    nll: float | None
    bins: list[Bin]
    accuracy_chosen_longer: Split
    accuracy_chosen_shorter: Split
    length_diff_corr: float | None = Field(
        description="Pearson correlation, over labelled pairs, of r_a − r_b with len_a − len_b (characters)"
    )
    length_bias_pairs: int = Field(description="labelled pairs whose two responses differ in length")
    prefers_longer: float | None = Field(
        description="share of those pairs where the model rewards the longer response more (a reward tie counts half)"
    )
    label_prefers_longer: float | None = Field(
        description="share of the same pairs where the label prefers the longer response (the model's share to compare)"
    )
    per_source: dict[str, Split]
    reward_mean: float
    reward_std: float


class PrincipleReport(BaseModel):
    """One principle's part in a per-principle model's decisions on labelled pairs."""

    principle: str
    weight: float = Field(description="its weight in the constitution used, divided by the weights' sum (as the reward uses it)")
    judged_pairs: int = Field(description="pairs this principle judged with a non-tied label")
    agreement: float | None = Field(
        description="share of those pairs where the head prefers what the principle's label prefers (a tie counts half)"
    )
    contribution: float = Field(
        description="mean of w_k (r_k(chosen) - r_k(rejected)) / std over pairs with a non-tied p_a: this principle's "
        "part of the normalised reward gap (the contributions sum to the whole gap)"
    )
    share: float = Field(description="mean |w_k (r_k(a) - r_k(b))| over all principles' total: how much it moves decisions")


class HeadsReport(BaseModel):
    """Per-principle figures of a per-principle model on labelled pairs, and its weighted reward's accuracy."""

    pairs: int
    accuracy: float | None = Field(description="weighted reward vs the ensembled label p_a (non-tied labels; a reward tie counts half)")
    principles: list[PrincipleReport]
