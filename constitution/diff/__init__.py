"""What an edit of the constitution changed: the constitution itself (:mod:`spec`), the labels of the same pairs
(:mod:`labels`, labelled through the judgment cache by :mod:`run`, so only invalidated judgments are asked), the
rewards of a reward model with per-principle heads (:mod:`rewards`), and the outputs (:mod:`report`). The versions
come loaded (folders, files or git revisions: :func:`constitution.sources.load_version`); :mod:`snapshot` keeps a
run's previous labels for its report."""

from constitution.diff.job import diff_job
from constitution.diff.labels import LabelDiff, PairMove, PrincipleEffect, PrincipleVerdict, compare_labels
from constitution.diff.report import diff_markdown, format_diff, write_diff
from constitution.diff.rewards import HeadScorer, RewardDiff, head_names, reward_diff
from constitution.diff.run import DiffReport, LabelCost, diff_versions
from constitution.diff.snapshot import diff_folders, keep_previous, write_snapshot
from constitution.diff.spec import PrincipleEdit, SpecDiff, diff_constitutions

__all__ = [
    "DiffReport",
    "HeadScorer",
    "LabelCost",
    "LabelDiff",
    "PairMove",
    "PrincipleEdit",
    "PrincipleEffect",
    "PrincipleVerdict",
    "RewardDiff",
    "SpecDiff",
    "compare_labels",
    "diff_constitutions",
    "diff_folders",
    "diff_job",
    "diff_markdown",
    "diff_versions",
    "format_diff",
    "head_names",
    "keep_previous",
    "reward_diff",
    "write_diff",
    "write_snapshot",
]
