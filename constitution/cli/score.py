"""``constitution score MODEL INPUT --out FILE``: batch-score responses with a reward model (or an ensemble).

INPUT (JSONL/Parquet/CSV/`datasets` folder) holds either pairs (any format ``train`` reads: both responses are
scored, giving reward_a/reward_b) or single responses ({prompt, response}, {prompt, completion} or {text}; see
``constitution.data.responses``). MODEL may be several folders joined by commas: an ensemble, giving the mean, std
and mean - k*std. Batches are length-sorted; a progress bar goes to stderr. FILE is .jsonl or .parquet, written
atomically.

A per-principle model scores with its heads weighted by --constitution (default: its training weights); --explain
adds one column per weighted principle, ``contribution_<id>`` (``contribution_<id>_a``/``_b`` for pairs): that
principle's share of the reward (w_k r_k; with --normalize w_k (r_k - mean_k) / std), summing to ``reward``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution
from constitution.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="batch-score responses with a reward model", description=__doc__)
    p.add_argument("model", help="reward model folder, or several joined by commas (ensemble)")
    p.add_argument("input", help="JSONL/Parquet/CSV file or datasets folder")
    p.add_argument("--out", required=True, help="output .jsonl or .parquet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--normalize", action="store_true", help="(r - mean)/std with the training statistics")
    p.add_argument("--k", type=float, default=1.0, help="ensemble: conservative reward = mean - k*std")
    p.add_argument("--limit", type=int, default=None)
    add_heads_constitution_flag(p)
    p.add_argument("--explain", action="store_true", help="per-principle model: add each principle's contribution columns")
    p.set_defaults(func=run)


def _single_items(source: str, limit: int | None) -> tuple[list[str], list[Any]]:
    """ids and (conversation, response) items, by the single-response rule."""
    from constitution.data.responses import response_row
    from constitution.data.rows import iter_rows

    ids, items = [], []
    for index, (where, row) in enumerate(iter_rows(source)):
        if limit is not None and index >= limit:
            break
        item = response_row(row, where, index)
        ids.append(item.id)
        items.append((item.conversation, item.response))
    if not items:
        raise InputError("no rows", where=source)
    return ids, items


def _scorer(spec: str, args: argparse.Namespace):
    """items -> {field: values}; one model gives 'reward', an ensemble mean/std/conservative too."""
    from constitution.reward.ensemble import RewardEnsemble
    from constitution.reward.model import RewardModel

    paths = [p for p in spec.split(",") if p]
    constitution = heads_constitution(args.constitution)
    if args.explain and len(paths) > 1:
        raise InputError("--explain needs one reward model, not an ensemble")
    if len(paths) == 1:
        model = RewardModel.load(paths[0], constitution=constitution)
        if args.explain:
            return lambda items: _explained(model, items, args)
        return lambda items: {
            "reward": model.score(items, batch_size=args.batch_size, normalize=args.normalize, progress=True)
        }
    ensemble = RewardEnsemble.load(paths, k=args.k, normalize=True, constitution=constitution)

    def score(items):
        s = ensemble.score(items, batch_size=args.batch_size, progress=True)
        return {"reward": s.mean, "reward_std": s.std, "reward_conservative": s.conservative}

    return score


def _explained(model, items: list[Any], args: argparse.Namespace) -> dict[str, list[float]]:
    """'reward' and one 'contribution_<id>' column per weighted principle."""
    rewards, shares = model.explain(items, batch_size=args.batch_size, normalize=args.normalize, progress=True)
    columns = {"reward": rewards}
    for principle in shares[0] if shares else {}:
        columns[f"contribution_{principle}"] = [s[principle] for s in shares]
    return columns


def _write(rows: list[dict], out: Path) -> None:
    from constitution.atomic import atomic_path, atomic_write_lines

    if out.suffix == ".parquet":
        import datasets

        with atomic_path(out) as tmp:
            datasets.Dataset.from_list(rows).to_parquet(str(tmp))
        return
    atomic_write_lines(out, (json.dumps(row) + "\n" for row in rows))


def run(args: argparse.Namespace) -> int:
    from constitution.data.pairs import is_pair_row, load_pairs
    from constitution.data.rows import first_row

    out = Path(args.out)
    if out.suffix not in {".jsonl", ".parquet"}:
        raise InputError("--out must end in .jsonl or .parquet", where=str(out))
    if is_pair_row(first_row(args.input)[1]):
        pairs, _ = load_pairs(args.input, limit=args.limit)
        items = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
        fields = _scorer(args.model, args)(items)
        n = len(pairs)
        rows: list[dict] = [{"id": p.id} for p in pairs]
        for name, values in fields.items():
            for row, a, b in zip(rows, values[:n], values[n:]):
                row[f"{name}_a"], row[f"{name}_b"] = a, b
        for row, p in zip(rows, pairs):
            row["p_a"] = p.p_a
    else:
        ids, items = _single_items(args.input, args.limit)
        fields = _scorer(args.model, args)(items)
        rows = [{"id": i, **{k: v[j] for k, v in fields.items()}} for j, i in enumerate(ids)]
    _write(rows, out)
    print(f"scored {len(rows)} rows -> {out}", file=sys.stderr)
    return 0
