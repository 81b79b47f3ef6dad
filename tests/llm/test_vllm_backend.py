"""In-process vLLM backend: raw fp32 option log-probs equal transformers', batched generation."""

from __future__ import annotations

import pytest
from tests.llm.llm_helpers import judge_prompts

from constitution.errors import InputError
from constitution.llm.base import LLM
from constitution.llm.options import OptionTokenError

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

OPTIONS = ["A", "B", " Yes"]


def max_abs_diff(x: list[list[float]], y: list[list[float]]) -> float:
    return max(abs(a - b) for r, s in zip(x, y) for a, b in zip(r, s))


def test_option_logprobs_match_transformers_fp32(vllm_judge, hf_judge):
    assert isinstance(vllm_judge, LLM) and vllm_judge.name == "vllm:smollm2-135m-instruct"
    prompts = judge_prompts(vllm_judge.tokenizer, 10)
    got = vllm_judge.option_logprobs(prompts, OPTIONS)
    want = hf_judge.option_logprobs(prompts, OPTIONS)
    assert len(got) == len(prompts) and all(len(r) == len(OPTIONS) for r in got)
    # raw log-softmax over the full vocabulary (not renormalised over the options, not temperature-processed)
    assert max_abs_diff(got, want) < 1e-3
    assert len({round(r[0] - r[1], 6) for r in got}) == len(prompts)  # fp32: no collapse to a few values
    again = vllm_judge.option_logprobs(prompts[:3], ["B", "A"])  # prefix cache hot, order follows `options`
    assert max_abs_diff(again, [[r[1], r[0]] for r in got[:3]]) < 1e-4


def test_bad_options_and_long_prompts_fail_before_the_engine(vllm_judge):
    with pytest.raises(OptionTokenError):
        vllm_judge.option_logprobs(["x"], ["A", "unsafe"])
    with pytest.raises(InputError, match="prompt 1"):
        vllm_judge.option_logprobs(["short", "word " * 3000], ["A", "B"])
    assert vllm_judge.option_logprobs([], ["A", "B"]) == []


def test_generate_n_samples_seeded(vllm_judge):
    prompts = judge_prompts(vllm_judge.tokenizer, 2)
    one = vllm_judge.generate(prompts, max_tokens=8, temperature=1.0, n=3, seed=3)
    two = vllm_judge.generate(prompts, max_tokens=8, temperature=1.0, n=3, seed=3)
    assert one == two and [len(r) for r in one] == [3, 3]
    assert len({t for r in one for t in r}) > 1
    greedy = vllm_judge.generate(prompts, max_tokens=6, n=2, stop=[")"])
    assert all(r[0] == r[1] and ")" not in r[0] for r in greedy)
