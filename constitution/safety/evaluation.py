"""``constitution eval-safety``'s evaluation as a library call: AUROC/AUPRC/F1 of a safety scorer on OpenAI
moderation samples (unknown labels excluded; per category where labelled) and the false-positive rate on XSTest's
safe prompts."""

from __future__ import annotations

import random

import numpy as np
from pydantic import BaseModel

from constitution.safety.config import SafetyEvalConfig
from constitution.safety.datasets import MODERATION_CATEGORIES, SafetyExample, load_moderation, load_xstest_prompts
from constitution.safety.metrics import BinaryMetrics, at_threshold
from constitution.safety.scorers import SafetyScorer, resolve_threshold


class CategoryRanking(BaseModel):
    """Ranking metrics of one moderation category, over the rows that label it."""

    n: int
    positives: int
    auroc: float | None
    auprc: float | None


class SafetyEvalReport(BaseModel):
    """The evaluation: a section per set given."""

    mode: str
    threshold: float
    moderation: BinaryMetrics | None = None
    moderation_per_category: dict[str, CategoryRanking] | None = None
    xstest: BinaryMetrics | None = None
    xstest_safe_prompt_fpr: float | None = None


def _sample(examples: list[SafetyExample], limit: int | None) -> list[SafetyExample]:
    examples = [ex for ex in examples if ex.label is not None]
    if limit is not None and len(examples) > limit:
        examples = random.Random(0).sample(examples, limit)
    return examples


def _per_category(scores: np.ndarray, examples: list[SafetyExample], threshold: float) -> dict[str, CategoryRanking]:
    out = {}
    for cat in MODERATION_CATEGORIES:
        idx = [i for i, ex in enumerate(examples) if cat in ex.categories]
        if idx:
            m = at_threshold(scores[idx], np.array([examples[i].categories[cat] for i in idx]), threshold)
            out[cat] = CategoryRanking(n=m.n, positives=m.positives, auroc=m.auroc, auprc=m.auprc)
    return out


def evaluate_safety(scorer: SafetyScorer, config: SafetyEvalConfig) -> SafetyEvalReport:
    """Score the sets ``config`` names with ``scorer`` (not closed here) at the threshold given, else its own."""
    config.check_files()
    report = SafetyEvalReport(mode=scorer.mode, threshold=resolve_threshold(config.threshold, scorer.threshold))
    if config.moderation:
        mod = _sample(load_moderation(config.moderation), config.limit)
        scores = np.array(scorer.unsafe_scores(mod))
        report.moderation = at_threshold(scores, np.array([ex.label for ex in mod]), report.threshold)
        report.moderation_per_category = _per_category(scores, mod, report.threshold)
    if config.xstest:
        xs = _sample(load_xstest_prompts(config.xstest), config.limit)
        report.xstest = at_threshold(np.array(scorer.unsafe_scores(xs)), np.array([ex.label for ex in xs]), report.threshold)
        report.xstest_safe_prompt_fpr = report.xstest.fpr
    return report
