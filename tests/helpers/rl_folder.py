"""A synthetic ``constitution rl`` output folder, as the command writes it: 40 logged steps of TRL rows (``seq_kl`` on
odd steps, only TRL's ``kl`` and ``completions/mean_length`` on even ones, as older runs), a gold reward that peaks at
step 25, gold checks on odd steps that alarm from step 31 (with a refresh to version 1 there, after which the
monitor's raw proxy is on another scale: 0.1·step, then 0.1·step − 3), and one broken line."""

import json

from constitution.overoptimization.rl_run import GOLD_KEY, PROXY_KEY


def write_rl_folder(folder, steps: int = 40, gold: bool = True, monitor: bool = True, log: bool = True, normalised: bool = False) -> None:
    """A synthetic ``constitution rl`` output folder: ``log.jsonl`` (with ``log``; a group-normalised proxy, batch
    mean 0, with ``normalised``) and (with ``monitor``) ``monitor.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(1, steps + 1):
        proxy = 0.0 if normalised else 0.1 * s
        row = {"step": s, "reward": proxy, PROXY_KEY: proxy, "kl": 0.01 * s, "completions/mean_length": 20.0 + s}
        if s % 2:
            row["seq_kl"] = 0.01 * s * (20.0 + s)
        if gold:
            row[GOLD_KEY] = 0.05 * (25 - abs(s - 25))
        rows.append(json.dumps(row))
    if log:
        (folder / "log.jsonl").write_text("\n".join(rows[:10] + ["{broken"] + rows[10:]) + "\n")
    if monitor:
        checks = [
            {"step": s, "pairs": 8, "decisive": 8, "agreement": 1 - s / 50, "agreement_upper": 1 - s / 60,
             "proxy_reward": 0.1 * s - 3 * (s > 31), "length": 20.0 + s, "seq_kl": None, "alarm": s >= 30,
             "reward_version": int(s > 31), "refreshed_to": 1 if s == 31 else None, "failed_pairs": 0}
            for s in range(1, steps + 1, 2)
        ]  # fmt: skip
        (folder / "monitor.jsonl").write_text("".join(json.dumps(c) + "\n" for c in checks))
