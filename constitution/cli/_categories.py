"""``constitution train INPUT --out RM --category-labels JUDGED``: safety-category heads for the reward model RM.

INPUT is what judge mode classified (the rows `classify` reads); JUDGED is its output with ``--categories``, whose
``category_scores`` (the judge's P(violates category)) are the labels, joined to INPUT by ``id``. Judge mode scores
categories only for rows it flags: run it with ``--threshold 0`` to get them for every row — rows without them train
nothing. The heads are fitted on RM's frozen features and written beside it; RM itself is unchanged.
"""

from __future__ import annotations

import argparse
import json

from constitution.errors import InputError


def _judged(source: str) -> dict[str, dict[str, float]]:
    """id -> category scores, for the rows of a judge-mode `classify --categories` output that have them."""
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


def fit_categories(args: argparse.Namespace, l2: float) -> dict:
    """Fit and save the category heads of ``--out``; returns what was fitted."""
    from constitution.reward.category_heads import fit_category_heads
    from constitution.reward.model import RewardModel
    from constitution.safety.datasets import load_examples

    judged = _judged(args.category_labels)
    examples = [ex for ex in load_examples(args.data, limit=args.limit) if ex.id in judged]
    if not examples:
        raise InputError(
            "no row of the input has category scores in the judged file (match by `id`; run judge-mode classify with "
            "--categories --threshold 0 so that every row gets them)",
            where=args.category_labels,
        )
    model = RewardModel.load(args.out, bf16=False)
    heads, fits = fit_category_heads(model, [(ex.conversation, ex.text) for ex in examples], [judged[ex.id] for ex in examples], l2=l2)
    heads.save(args.out)
    return {"out_dir": args.out, "categories": heads.categories, "fits": [f.model_dump() for f in fits]}
