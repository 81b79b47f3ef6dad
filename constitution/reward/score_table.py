"""``constitution score``'s job as a library call: a file of pairs or single responses scored by a reward model (or
an ensemble) into a table, written as JSONL or Parquet.

Pairs (any format ``train`` reads) get ``<column>_a``/``<column>_b`` and ``p_a``; single responses ({prompt, response},
{prompt, completion} or {text}; see :mod:`constitution.data.responses`) get ``<column>``. One model gives ``reward``
(and with ``explain`` one ``contribution_<id>`` per weighted principle, summing to it); an ensemble gives ``reward``
(the mean), ``reward_std`` and ``reward_conservative`` (mean - k*std).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from constitution.errors import InputError

if TYPE_CHECKING:
    from constitution.data.records import Pair
    from constitution.principles import Constitution
    from constitution.reward.inputs import Item

Columns = Callable[[list["Item"]], dict[str, list[float]]]
"""Items -> named columns of values, one per item."""

SUFFIXES = (".jsonl", ".parquet")


class ScoreConfig(BaseModel):
    """How ``score`` scores."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(64, ge=1, description="responses per forward pass")
    normalize: bool = Field(False, description="(r - mean)/std with the training statistics")
    k: float = Field(1.0, description="ensemble: conservative reward = mean - k*std")
    limit: int | None = Field(None, ge=1, description="score only the first N rows")
    explain: bool = Field(False, description="per-principle model: add each principle's contribution columns")


def reward_columns(paths: Sequence[str | Path], config: ScoreConfig, constitution: Constitution | None = None) -> Columns:
    """The columns of one reward model (``paths`` of one) or an ensemble; ``constitution`` weighs a per-principle
    model's heads (None: its training weights)."""
    from constitution.reward.ensemble import RewardEnsemble
    from constitution.reward.model import RewardModel

    if config.explain and len(paths) > 1:
        raise InputError("--explain needs one reward model, not an ensemble")
    if len(paths) == 1:
        model = RewardModel.load(paths[0], constitution=constitution)
        if config.explain:
            return lambda items: _explained(model, items, config)
        return lambda items: {"reward": model.score(items, batch_size=config.batch_size, normalize=config.normalize, progress=True)}
    ensemble = RewardEnsemble.load(paths, k=config.k, normalize=True, constitution=constitution)

    def score(items: list[Item]) -> dict[str, list[float]]:
        s = ensemble.score(items, batch_size=config.batch_size, progress=True)
        return {"reward": s.mean, "reward_std": s.std, "reward_conservative": s.conservative}

    return score


def _explained(model: Any, items: list[Item], config: ScoreConfig) -> dict[str, list[float]]:
    """'reward' and one 'contribution_<id>' column per weighted principle."""
    rewards, shares = model.explain(items, batch_size=config.batch_size, normalize=config.normalize, progress=True)
    columns = {"reward": rewards}
    for principle in shares[0] if shares else {}:
        columns[f"contribution_{principle}"] = [s[principle] for s in shares]
    return columns


@dataclass
class ScoreInput:
    """What a file holds to score: its ids and items, and its pairs when it holds pairs (then the items are every
    pair's response A, then every pair's response B)."""

    ids: list[str]
    items: list[Item]
    pairs: list[Pair] | None = None


def read_score_input(source: str, limit: int | None = None) -> ScoreInput:
    """Pairs (any format ``train`` reads) or single responses, by the first row; every bad row is an error before a
    model loads."""
    from constitution.data.pairs import is_pair_row, load_pairs
    from constitution.data.responses import response_row
    from constitution.data.rows import first_row, iter_rows

    if is_pair_row(first_row(source)[1]):
        pairs, _ = load_pairs(source, limit=limit)
        items = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
        return ScoreInput([p.id for p in pairs], items, pairs)
    ids, items = [], []
    for index, (where, row) in enumerate(iter_rows(source)):
        if limit is not None and index >= limit:
            break
        item = response_row(row, where, index)
        ids.append(item.id)
        items.append((item.conversation, item.response))
    if not items:
        raise InputError("no rows", where=source)
    return ScoreInput(ids, items)


def score_table(inputs: ScoreInput, columns: Columns) -> list[dict[str, Any]]:
    """One row per pair (``<column>_a``/``_b``, and ``p_a``) or per response (``<column>``)."""
    fields = columns(inputs.items)
    if inputs.pairs is None:
        return [{"id": i, **{k: v[j] for k, v in fields.items()}} for j, i in enumerate(inputs.ids)]
    n = len(inputs.pairs)
    rows: list[dict[str, Any]] = [{"id": i} for i in inputs.ids]
    for name, values in fields.items():
        for row, a, b in zip(rows, values[:n], values[n:]):
            row[f"{name}_a"], row[f"{name}_b"] = a, b
    for row, p in zip(rows, inputs.pairs):
        row["p_a"] = p.p_a
    return rows


def table_path(out: str | Path) -> Path:
    """``out`` when it names a table this module writes (.jsonl or .parquet), else an error."""
    path = Path(out)
    if path.suffix not in SUFFIXES:
        raise InputError("--out must end in .jsonl or .parquet", where=str(path))
    return path


def write_table(rows: list[dict[str, Any]], out: str | Path) -> Path:
    """Write ``rows`` as JSONL or Parquet (by the suffix), atomically."""
    from constitution.atomic import atomic_path, atomic_write_lines

    path = table_path(out)
    if path.suffix == ".parquet":
        import datasets

        with atomic_path(path) as tmp:
            datasets.Dataset.from_list(rows).to_parquet(str(tmp))
        return path
    return atomic_write_lines(path, (json.dumps(row) + "\n" for row in rows))
