"""The protocol helpers shared by every backend: option tokens, prompt encoding, config, factory."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from constitution.errors import InputError
from constitution.feedback.base import (
    JudgeConfig,
    OptionTokenError,
    check_prompt_lengths,
    encode_prompts,
    make_backend,
    model_label,
    option_token_ids,
    truncate_at_stop,
)
from constitution.feedback.vllm_backend import engine_kwargs


def test_option_token_ids_are_single_tokens_in_order(judge_tokenizer):
    assert option_token_ids(judge_tokenizer, ["A", "B"]) == [49, 50]
    assert option_token_ids(judge_tokenizer, ["B", "A", " Yes"]) == [50, 49, 9230]


@pytest.mark.parametrize("options", [["A", "Yes please"], ["unsafe"], ["A", "A"], []])
def test_bad_options_are_rejected_clearly(judge_tokenizer, options):
    with pytest.raises(OptionTokenError) as info:
        option_token_ids(judge_tokenizer, options)
    assert isinstance(info.value, InputError)  # the CLI maps it to exit code 2
    if options and options[-1] != "A":
        assert repr(options[-1]) in str(info.value) and "exactly one token" in str(info.value)


def test_rendered_prompts_keep_a_single_bos(judge_tokenizer):
    chat = [{"role": "user", "content": "hi"}]
    text = judge_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    (ids,) = encode_prompts(judge_tokenizer, [text])
    bos = judge_tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[0] == bos and ids[1] != bos
    assert ids == judge_tokenizer.encode(text, add_special_tokens=False)
    assert encode_prompts(judge_tokenizer, []) == []


def test_prompt_length_check_names_the_prompt():
    check_prompt_lengths([[1, 2], [3]], max_len=3)
    with pytest.raises(InputError, match="prompt 1"):
        check_prompt_lengths([[1], [1, 2, 3]], max_len=3)
    with pytest.raises(InputError, match="prompt 0: empty"):
        check_prompt_lengths([[]], max_len=None)


def test_truncate_at_stop_cuts_at_the_earliest_stop():
    assert truncate_at_stop("abc\ndef###", ["###", "\n"]) == "abc"
    assert truncate_at_stop("abc", None) == "abc"
    assert truncate_at_stop("abc", ["x"]) == "abc"


def test_model_label_is_a_name_not_a_path(tmp_path, judge_model_path):
    assert model_label("SmolLM2-135M-Instruct") == "smollm2-135m-instruct"
    assert model_label(judge_model_path) == "smollm2-135m-instruct"
    folder = tmp_path / "my-judge"
    folder.mkdir()
    assert model_label(str(folder)) == "my-judge"
    assert model_label("org/some-model") == "org/some-model"


def test_config_rejects_unknown_fields_and_bad_values():
    with pytest.raises(ValidationError):
        JudgeConfig(backend="vllm", temprature=0.5)
    with pytest.raises(ValidationError):
        JudgeConfig(backend="tgi")
    with pytest.raises(ValidationError):
        JudgeConfig(max_concurrency=0)


def test_openai_backend_needs_an_endpoint(judge_model_path):
    with pytest.raises(InputError, match="base-url"):
        make_backend(JudgeConfig(backend="openai"))


def test_vllm_engine_keeps_fp32_logits_for_low_precision_weights():
    fp32 = engine_kwargs(JudgeConfig(), "/m")
    assert fp32["dtype"] == "float32" and "hf_overrides" not in fp32
    assert fp32["logprobs_mode"] == "raw_logprobs" and fp32["enable_prefix_caching"] and fp32["enforce_eager"]
    bf16 = engine_kwargs(JudgeConfig(dtype="bfloat16", enforce_eager=False), "/m")
    assert bf16["hf_overrides"] == {"head_dtype": "float32"} and bf16["enforce_eager"] is False
    assert fp32["block_size"] == 32  # CPU: small blocks so the prefix cache reuses shared principle text
    assert engine_kwargs(JudgeConfig(block_size=64), "/m")["block_size"] == 64
