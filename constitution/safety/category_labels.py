"""Safety-category heads from a judge's category scores: ``constitution train INPUT --out RM --category-labels JUDGED``.

INPUT is what judge mode classified (the rows `classify` reads); JUDGED is its output with ``--categories``, whose
``category_scores`` (the judge's P(violates category)) are the labels, joined to INPUT by ``id``. Judge mode scores
categories only for rows it flags: run it with ``--threshold 0`` to get them for every row — rows without them train
nothing. The heads are fitted on the reward model's frozen features and written beside it; the model is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from constitution.errors import InputError
from constitution.reward.category_heads import CategoryFit


class CategoryHeadsResult(BaseModel):
    """What was fitted, and where."""

    out_dir: str
    categories: list[str]
    fits: list[CategoryFit]


def read_category_scores(source: str | Path) -> dict[str, dict[str, float]]:
    """id -> category scores, for the rows of a judge-mode `classify --categories` output that have them; a row with
    malformed scores is an error naming it."""
    from constitution.data.rows import iter_rows

    out: dict[str, dict[str, float]] = {}
    for where, row in iter_rows(source):
        scores = row.get("category_scores")
        if isinstance(scores, str):
            scores = json.loads(scores) if scores.strip() else None
        if scores is None:
            continue
        if "id" not in row or not isinstance(scores, dict) or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in scores.values()):
            raise InputError("expected `id` and `category_scores` mapping categories to probabilities (classify output)", where=where)
        out[str(row["id"])] = {str(k): float(v) for k, v in scores.items()}
    return out


def fit_categories(data: str | Path, judged_source: str | Path, model_dir: str | Path, *, l2: float, limit: int | None = None) -> CategoryHeadsResult:
    """Fit the category heads of the reward model at ``model_dir`` on the rows of ``data`` that ``judged_source``
    scored, and save them beside it."""
    from constitution.reward.category_heads import fit_category_heads
    from constitution.reward.model import RewardModel
    from constitution.safety.datasets import load_examples

    judged = read_category_scores(judged_source)
    examples = [ex for ex in load_examples(data, limit=limit) if ex.id in judged]
    if not examples:
        raise InputError(
            "no row of the input has category scores in the judged file (match by `id`; run judge-mode classify with "
            "--categories --threshold 0 so that every row gets them)",
            where=str(judged_source),
        )
    model = RewardModel.load(model_dir, bf16=False)
    heads, fits = fit_category_heads(model, [(ex.conversation, ex.text) for ex in examples], [judged[ex.id] for ex in examples], l2=l2)
    heads.save(model_dir)
    return CategoryHeadsResult(out_dir=str(model_dir), categories=heads.categories, fits=fits)
