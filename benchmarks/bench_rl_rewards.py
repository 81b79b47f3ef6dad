"""Rewards for RL (issue 24), three figures in one run on one machine:

1. ``grpo``: TRL ``GRPOTrainer`` on the embedded policy (``constitution rl``'s GRPOConfig: 2 prompts × 4 completions
   a step, the demo prompts), once with the in-process reward (:class:`constitution.rl.RewardFunction` over the
   reward folder) and once with a reward function that calls ``constitution serve`` (a subprocess on 127.0.0.1)
   through :class:`constitution.client.RewardClient`; alternating repeats. Per run: steps/s over the steps after
   the warm-up step (time between the warm-up step's end and the last step's end) and the share of that time spent
   in the reward call. The first step's mean reward of the two modes is compared (same seed, same completions).
2. ``bursts``: the single-process service under RL-shaped bursts (see ``rl_bursts.py``): prompts × group one-text
   requests at once from N retrying async clients, K bursts back to back; burst and request p50/p99, failures,
   retries, and the checks (nothing lost, nothing scored twice by the server's own count, rewards = the library's).
   Twice: the default queue, and a queue of ``--bounded-queue`` items so bursts overflow it (503, clients retry).
3. ``ray``: ``constitution serve --engine ray --replicas 1`` and ``--replicas 2`` (one CPU reserved per replica)
   under the same bursts, alternating; the throughput ratio 2/1 from the same run (of the medians, and paired per
   repeat with its median and min–max).

The reward model is a MiniLM reward folder made on the fly (``bench_service._default_model``).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_rl_rewards.py --steps 6 --repeats 3 --bursts 10 \\
        --ray-repeats 2 --out benchmarks/results                                                   # full (≤ 12 min, 2 cores)
    .venv/bin/python benchmarks/bench_rl_rewards.py --steps 2 --max-new-tokens 8 --repeats 1 --bursts 2 --prompts 4 \\
        --group 4 --ray-repeats 1 --out /tmp/rlb                                                   # smoke
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402
from bench_service import Server, _default_model  # noqa: E402
from rl_bursts import KEY, RayServer, run_bursts  # noqa: E402


class Timed:
    """A TRL reward function that records when each call started and how long it took."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.__name__ = fn.__name__
        self.calls: list[tuple[float, float]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> list[float]:
        start = time.perf_counter()
        out = self.fn(*args, **kwargs)
        self.calls.append((start, time.perf_counter() - start))
        return out


class ServiceReward:
    """The service as a TRL reward function: (prompt, completion) items to ``/score`` through the retrying client."""

    __name__ = "constitution_reward"

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        from constitution.rl import completion_text

        return self.client.score([(p, completion_text(c)) for p, c in zip(prompts, completions)]).rewards


def grpo_run(reward: Any, folder: Path, steps: int, max_new_tokens: int, out: Path) -> dict[str, Any]:
    """``steps`` + 1 GRPO steps (the first is the warm-up) of ``constitution rl``'s trainer with ``reward``."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOTrainer

    from constitution.embedded_models import resolve_model
    from constitution.rl import RLConfig
    from constitution.rl.grpo import grpo_args, rl_prompts

    ends: list[float] = []

    class StepEnds(TrainerCallback):
        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    config = RLConfig(reward_model=[str(folder)], steps=steps + 1, max_new_tokens=max_new_tokens)
    timed = Timed(reward)
    path = resolve_model(config.policy)
    data = datasets.Dataset.from_list([{"prompt": [m.model_dump() for m in p.messages]} for p in rl_prompts(config)])
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), reward_funcs=[timed],
        args=grpo_args(config, out, None), train_dataset=data, processing_class=AutoTokenizer.from_pretrained(path),
        callbacks=[StepEnds()],
    )  # fmt: skip
    trainer.train()
    measured = ends[-1] - ends[0]
    reward_s = sum(s for start, s in timed.calls if start >= ends[0])
    first = next(h["reward"] for h in trainer.state.log_history if "reward" in h)
    return {"steps": len(ends) - 1, "seconds": measured, "steps_per_s": (len(ends) - 1) / measured,
            "reward_s": reward_s, "reward_share": reward_s / measured, "first_step_reward": first}  # fmt: skip


def _median(runs: list[dict], key: str) -> dict[str, float]:
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_grpo(folder: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Alternating in-process / service GRPO runs against one service started once."""
    from constitution.client import ClientConfig, RewardClient
    from constitution.rl import RewardFunction

    runs: dict[str, list[dict]] = {"in_process": [], "service": []}
    with Server(folder, api_key=KEY) as server, RewardClient(config=ClientConfig(base_url=server.base_url, api_key=KEY)) as client:
        for r in range(args.repeats):
            for mode in (["in_process", "service"] if r % 2 == 0 else ["service", "in_process"]):
                reward = RewardFunction.load(folder) if mode == "in_process" else ServiceReward(client)
                runs[mode].append(grpo_run(reward, folder, args.steps, args.max_new_tokens, work / f"grpo-{mode}-{r}"))
                print(f"grpo {mode} repeat {r}: {runs[mode][-1]}", flush=True)
    result: dict[str, Any] = {"steps_measured": args.steps, "warmup_steps": 1, "repeats": args.repeats,
                              "max_new_tokens": args.max_new_tokens, "prompts_per_step": 2, "num_generations": 4}  # fmt: skip
    for mode, rs in runs.items():
        result[mode] = {"runs": rs, "steps_per_s": _median(rs, "steps_per_s"), "reward_share": _median(rs, "reward_share")}
    result["service_over_in_process_steps_per_s"] = result["service"]["steps_per_s"]["median"] / result["in_process"]["steps_per_s"]["median"]
    result["first_step_reward_max_abs_diff"] = max(abs(a["first_step_reward"] - b["first_step_reward"]) for a, b in zip(*runs.values()))
    return result


def _burst_args(args: argparse.Namespace) -> dict[str, int]:
    return {"clients": args.clients, "prompts": args.prompts, "group": args.group, "bursts": args.bursts}


def bench_bursts(folder: Path, library: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The single-process service under bursts: default queue, then a queue the bursts overflow."""
    out: dict[str, Any] = {**_burst_args(args)}
    queues = {"default_queue": (), "bounded_queue": ("--max-items", "1", "--max-queue-items", str(args.bounded_queue))}
    for name, flags in queues.items():
        with Server(folder, *flags, api_key=KEY) as server:
            run_bursts(server.base_url, library, tag=f"{name}-warm", count_on_server=True, **_burst_args(args) | {"bursts": 1})
            out[name] = {"flags": list(flags), **run_bursts(server.base_url, library, tag=name, count_on_server=True, **_burst_args(args))}
        print(f"bursts {name}: {out[name]}", flush=True)
    return out


def bench_ray(folder: Path, library: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Ray Serve with 1 and 2 replicas under the same bursts, alternating (1, 2, 2, 1, ...)."""
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for r in range(args.ray_repeats):
        for replicas in ([1, 2] if r % 2 == 0 else [2, 1]):
            started = time.perf_counter()
            with RayServer(folder, "--engine", "ray", "--replicas", str(replicas), api_key=KEY, start_timeout=300) as server:
                startup = time.perf_counter() - started
                tag = f"ray{replicas}-{r}"
                run_bursts(server.base_url, library, tag=tag + "-warm", count_on_server=False, **_burst_args(args) | {"bursts": 1})
                run = run_bursts(server.base_url, library, tag=tag, count_on_server=False, **_burst_args(args))
            runs[replicas].append({"startup_s": startup, **run})
            print(f"ray replicas={replicas} repeat {r}: {runs[replicas][-1]}", flush=True)
    out: dict[str, Any] = {**_burst_args(args), "repeats": args.ray_repeats, "cpus": os.cpu_count(), "replica_cpus": 1.0,
                           "note": "server_items_scored is per replica under Ray (/health reaches one), so not counted"}  # fmt: skip
    for n, rs in runs.items():
        out[f"replicas_{n}"] = {"runs": rs, "texts_per_s": _median(rs, "texts_per_s"), "burst_p50_ms": _median(rs, "burst_p50_ms")}
    out["throughput_ratio_2_over_1"] = out["replicas_2"]["texts_per_s"]["median"] / out["replicas_1"]["texts_per_s"]["median"]
    paired = [two["texts_per_s"] / one["texts_per_s"] for one, two in zip(runs[1], runs[2])]  # the same repeat, back to back
    out["paired_ratio_2_over_1"] = {"per_repeat": paired, "median": statistics.median(paired), "min": min(paired), "max": max(paired)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="reward model folder (default: MiniLM made on the fly)")
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps measured (after 1 warm-up step)")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="GRPO completion length")
    parser.add_argument("--repeats", type=int, default=3, help="GRPO runs per mode, alternating")
    parser.add_argument("--clients", type=int, default=8, help="concurrent async clients sending a burst")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per burst")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt (the GRPO group)")
    parser.add_argument("--bursts", type=int, default=10, help="bursts back to back (after 1 warm-up burst)")
    parser.add_argument("--bounded-queue", type=int, default=32, help="the overflowed server's --max-queue-items")
    parser.add_argument("--ray-repeats", type=int, default=2, help="Ray runs per replica count, alternating (0: skip)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["grpo", "bursts", "ray"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    from constitution.reward.model import RewardModel

    started = time.perf_counter()
    blob: dict[str, Any] = {"cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model or _default_model(Path(tmp) / "reward")
        library = RewardModel.load(folder)
        if "grpo" not in args.skip:
            blob["grpo"] = bench_grpo(folder, args, Path(tmp))
        if "bursts" not in args.skip:
            blob["bursts"] = bench_bursts(folder, library, args)
        if "ray" not in args.skip and args.ray_repeats:
            blob["ray"] = bench_ray(folder, library, args)
    blob["wall_s"] = time.perf_counter() - started
    write_results(args.out, "bench_rl_rewards", blob)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
