"""Preference benchmarks in RewardBench's layout: a reward model or a generative judge, scored by accuracy per subset
and per RewardBench section."""

from constitution.bench.data import BenchRow, read_bench
from constitution.bench.result import BenchResult, format_result
from constitution.bench.scorers import bench_judge, bench_reward_model
from constitution.bench.sections import SECTIONS, section_of

__all__ = [
    "SECTIONS",
    "BenchResult",
    "BenchRow",
    "bench_judge",
    "bench_reward_model",
    "format_result",
    "read_bench",
    "section_of",
]
