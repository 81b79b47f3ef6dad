"""Labeling: plan judgments per pair, ask the judge (through the judgment cache), turn option log-probs into soft
AI preference labels, and write the AI-feedback dataset with its statistics. :func:`label_dataset` is the one entry
point (one judge or a jury, :mod:`constitution.labeling.jury`), the CLI's and the pipeline's. Importing it registers
the ``reward`` judge backend (a reward model as a judge, :mod:`.reward_judge`)."""

from constitution.labeling.cache import Judgment, JudgmentCache, JudgmentKey
from constitution.labeling.config import LabelConfig
from constitution.labeling.labeler import Labeler, LabelSink, ListSink, label_pairs
from constitution.labeling.output import LabelWriter
from constitution.labeling.reward_judge import RewardJudge, RewardJudgeConfig  # registers backend "reward"
from constitution.labeling.progress import progress_bar
from constitution.labeling.run import describe, label_dataset
from constitution.labeling.stats import LabelSummary, PrincipleStats, agreement
from constitution.labeling.table import format_summary

__all__ = [
    "Judgment",
    "JudgmentCache",
    "JudgmentKey",
    "LabelConfig",
    "LabelSink",
    "LabelSummary",
    "LabelWriter",
    "Labeler",
    "ListSink",
    "PrincipleStats",
    "RewardJudge",
    "RewardJudgeConfig",
    "agreement",
    "describe",
    "format_summary",
    "label_dataset",
    "label_pairs",
    "progress_bar",
]
