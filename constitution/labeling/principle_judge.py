"""A judge for the labels one principle lacks (``reward.add_principle``): an LLM through the judgment cache.

The LLM is loaded, and the cache opened, only when the judge is called, so adding a principle whose labels are all
there loads no model. Judgments already cached are not asked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from constitution.labeling.cache import JudgmentCache
from constitution.labeling.labeler import Labeler, label_pairs
from constitution.llm.config import LLMConfig
from constitution.llm.factory import make_llm
from constitution.principles import Constitution
from constitution.reward.principle_pairs import JudgedLabels, PrincipleJudge, PrinciplePair

CACHE_FILE = "judgments.sqlite"


def default_cache(data: str | Path) -> Path:
    """Where ``constitution label`` put the judgment cache for this data: inside a labels folder, else beside the file."""
    path = Path(data)
    return (path if path.is_dir() else path.parent) / CACHE_FILE


def principle_judge(llm: LLMConfig, cache: str | Path) -> PrincipleJudge:
    """A :data:`PrincipleJudge` asking ``llm`` (loaded on call, closed after) through the judgment cache ``cache``."""

    def judge(only: Constitution, pairs: Sequence[PrinciplePair]) -> JudgedLabels:
        (principle,) = only.principles
        model = make_llm(llm)
        try:
            with JudgmentCache(cache) as store:
                records, summary = label_pairs(Labeler(only, model, store), pairs)
        finally:
            model.close()
        return JudgedLabels(
            labels={r.id: r.per_principle[principle.id] for r in records},
            computed=summary.judgments_computed,
            cached=summary.judgments_cached,
            unlabelled=summary.pairs_skipped + summary.pairs_failed,
        )

    return judge
