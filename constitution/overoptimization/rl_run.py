"""An RL output folder (``constitution rl --out DIR``) read back as plain data: TRL's log per step and the gold checks.

* ``log.jsonl``, one TRL log row per step: the **proxy** reward is the batch mean of the combined reward function,
  ``rewards/constitution_reward/mean`` (else the one ``rewards/<name>/mean`` other than ``gold``, else TRL's
  ``reward``); the **gold reward** is ``rewards/gold/mean`` where a gold reward function was logged beside it (weight
  0, as the over-optimisation benchmark does); the **sequence KL** is the row's ``seq_kl``, else TRL's per-token
  ``kl`` × ``completions/mean_length``, else None (β = 0).
* ``monitor.jsonl``, one gold check per line (the fields of the monitor's records that are drawn; others ignored),
  among them ``proxy_reward``: the batch's mean *raw* combined reward, the proxy to draw when the log's is
  group-normalised (``--aggregation normalize_then_sum``: its batch mean is 0 at every step).

A run cut short may have a ``monitor.jsonl`` and no ``log.jsonl``: it is read (no steps, its checks); a folder with
neither is no RL run (None).

A line that is not a JSON object is skipped and listed (``skipped``): a run's figure never fails on one bad line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

PROXY_KEY = "rewards/constitution_reward/mean"
GOLD_KEY = "rewards/gold/mean"


class StepRow(BaseModel):
    """One logged step."""

    step: int
    proxy: float | None
    gold: float | None
    seq_kl: float | None
    length: float | None


class CheckRow(BaseModel):
    """One gold check of the monitor (``monitor.jsonl``)."""

    model_config = ConfigDict(extra="ignore")

    step: int
    agreement: float | None = None
    agreement_upper: float | None = None
    gold_win_rate: float | None = None
    proxy_reward: float | None = None
    alarm: bool = False
    reward_version: int = 0
    refreshed_to: int | None = None
    seq_kl: float | None = None


class RLRun(BaseModel):
    """What an RL folder holds: its steps, its gold checks, the log key read as the proxy, and the lines skipped."""

    folder: str
    steps: list[StepRow]
    checks: list[CheckRow]
    proxy_key: str | None
    skipped: list[str] = []

    def check_seq_kl(self, check: CheckRow) -> float | None:
        """The sequence KL of a check's step: TRL's log of that step, else the check's own (the previous step's)."""
        logged = next((r.seq_kl for r in self.steps if r.step == check.step), None)
        return logged if logged is not None else check.seq_kl

    def version_at(self, step: int) -> int:
        """The reward model's version that scored ``step``: a refresh at a check takes effect after that check."""
        refreshes = [c.refreshed_to for c in self.checks if c.refreshed_to is not None and c.step < step]
        return refreshes[-1] if refreshes else (self.checks[0].reward_version if self.checks else 0)


def step_seq_kl(row: Mapping[str, Any]) -> float | None:
    """The row's sequence KL: ``seq_kl``, else ``kl`` × ``completions/mean_length``, else None."""
    if row.get("seq_kl") is not None:
        return float(row["seq_kl"])
    kl, length = row.get("kl"), row.get("completions/mean_length")
    return None if kl is None or length is None else float(kl) * float(length)


def proxy_key(row: Mapping[str, Any]) -> str | None:
    """The log key of the proxy reward (see the module docstring)."""
    if PROXY_KEY in row:
        return PROXY_KEY
    named = [k for k in row if k.startswith("rewards/") and k.endswith("/mean") and k.count("/") == 2 and k != GOLD_KEY]
    return named[0] if len(named) == 1 else ("reward" if "reward" in row else None)


def _objects(path: Path, skipped: list[str]) -> list[dict[str, Any]]:
    rows = []
    if not path.exists():
        return rows
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"{path}:{n}: {exc}")
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            skipped.append(f"{path}:{n}: not a JSON object")
    return rows


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def read_rl_run(folder: str | Path) -> RLRun | None:
    """The RL run in ``folder``, or None when it has neither ``log.jsonl`` nor ``monitor.jsonl``."""
    folder = Path(folder)
    if not (folder / "log.jsonl").exists() and not (folder / "monitor.jsonl").exists():
        return None
    skipped: list[str] = []
    log = [r for r in _objects(folder / "log.jsonl", skipped) if "step" in r]
    key = proxy_key(log[0]) if log else None
    steps = [
        StepRow(step=int(r["step"]), proxy=_float(r.get(key)) if key else None, gold=_float(r.get(GOLD_KEY)),
                seq_kl=step_seq_kl(r), length=_float(r.get("completions/mean_length")))
        for r in log
    ]  # fmt: skip
    checks = []
    for n, r in enumerate(_objects(folder / "monitor.jsonl", skipped), 1):
        try:
            checks.append(CheckRow.model_validate(r))
        except ValidationError as exc:
            skipped.append(f"{folder / 'monitor.jsonl'} record {n}: {exc.errors()[0]['msg']}")
    return RLRun(folder=str(folder), steps=steps, checks=checks, proxy_key=key, skipped=skipped)
