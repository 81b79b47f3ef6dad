"""Preference benchmarks in RewardBench's layout (``constitution bench``): a reward model or a generative judge, scored
by accuracy per subset and per RewardBench section. Not the performance benchmarks of ``benchmarks/`` (``make bench``)."""

from constitution.preference_bench.data import BenchRow, read_bench
from constitution.preference_bench.result import BenchResult, format_result
from constitution.preference_bench.scorers import bench_judge, bench_judge_job, bench_reward_model
from constitution.preference_bench.sections import SECTIONS, section_of

__all__ = [
    "SECTIONS",
    "BenchResult",
    "BenchRow",
    "bench_judge",
    "bench_judge_job",
    "bench_reward_model",
    "format_result",
    "read_bench",
    "section_of",
]
