"""What every backend shares: option tokens, prompt encoding, configs, the factory, and display names (identities:
test_identity.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from constitution.errors import InputError
from constitution.llm import llm_config, make_llm
from constitution.llm.base import check_prompt_lengths, encode_prompts, truncate_at_stop
from constitution.llm.options import OptionTokenError
from constitution.llm.config import HfConfig, OpenAIConfig, VllmConfig
from constitution.devices import cpu_has_native_bf16
from constitution.llm.dtypes import resolve_dtype
from constitution.llm.options import option_token_ids
from constitution.llm.vllm_backend import engine_kwargs
from constitution.embedded_models import display_name


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


def test_display_name_is_a_name_not_a_path(tmp_path, judge_model_path):
    assert display_name("SmolLM2-135M-Instruct") == "smollm2-135m-instruct"
    folder = tmp_path / "my-judge"
    folder.mkdir()
    assert display_name(str(folder)) == "my-judge"
    assert display_name("org/some-model") == "org/some-model"


def test_configs_are_one_per_backend_and_reject_strangers():
    assert isinstance(llm_config(), VllmConfig) and isinstance(llm_config(backend="hf"), HfConfig)
    assert isinstance(llm_config(backend="openai", base_urls=["http://x"]), OpenAIConfig)
    with pytest.raises(ValidationError):
        llm_config(backend="vllm", temprature=0.5)
    with pytest.raises(ValidationError):
        llm_config(backend="tgi")
    with pytest.raises(ValidationError):
        llm_config(backend="openai", max_concurrency=0)
    with pytest.raises(ValidationError):  # another backend's field
        llm_config(backend="vllm", base_urls=["http://x"])


def test_dtype_auto_is_bf16_where_it_is_native():
    assert resolve_dtype("auto", cuda=False) == ("bfloat16" if cpu_has_native_bf16() else "float32")
    assert resolve_dtype("float16", cuda=False) == "float16"
    assert VllmConfig().dtype == HfConfig().dtype == "auto"


def test_openai_backend_needs_an_endpoint(judge_model_path):
    with pytest.raises(InputError, match="base-url"):
        make_llm(OpenAIConfig())


def test_vllm_engine_keeps_fp32_logits_for_low_precision_weights():
    fp32 = engine_kwargs(VllmConfig(), "/m", "float32")
    assert fp32["dtype"] == "float32" and "hf_overrides" not in fp32
    assert fp32["logprobs_mode"] == "raw_logprobs" and fp32["enable_prefix_caching"] and fp32["enforce_eager"]
    bf16 = engine_kwargs(VllmConfig(enforce_eager=False), "/m", "bfloat16")
    assert bf16["hf_overrides"] == {"head_dtype": "float32"} and bf16["enforce_eager"] is False
    assert fp32["block_size"] == 32  # CPU: small blocks so the prefix cache reuses shared principle text
    assert engine_kwargs(VllmConfig(block_size=64), "/m", "float32")["block_size"] == 64
