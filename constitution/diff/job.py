"""The whole ``constitution diff`` job as a library call: the judge started and closed, the judgment cache opened, both
versions labelled, and (with a per-principle reward model) the rewards compared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from constitution.data.records import Pair
from constitution.diff.rewards import head_names, reward_diff
from constitution.diff.run import DiffReport, diff_versions
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.config import LabelConfig
from constitution.llm.config import LLMConfig
from constitution.llm.factory import make_llm
from constitution.principles import Constitution


def diff_job(
    old: tuple[str, Constitution],
    new: tuple[str, Constitution],
    pairs: Sequence[Pair],
    judge: LLMConfig,
    cache: str | Path,
    config: LabelConfig | None = None,
    *,
    model: str | None = None,
    top: int = 10,
    batch_size: int = 64,
    show_progress: bool = False,
) -> DiffReport:
    """Label ``pairs`` under ``old`` and ``new`` with the judge ``judge`` through the cache file ``cache``, and add the
    reward diff of the per-principle reward model ``model`` when given (a model without heads is refused before the
    judge loads)."""
    if model:
        head_names(model)
    llm = make_llm(judge)
    try:
        with JudgmentCache(cache) as judgments:
            report = diff_versions(old, new, pairs, llm, judgments, config, top=top, show_progress=show_progress)
    finally:
        llm.close()
    if model:
        from constitution.reward.model import RewardModel

        report.rewards = reward_diff(RewardModel.load(model), model, pairs, old[1], new[1], top=top, batch_size=batch_size)
    return report
