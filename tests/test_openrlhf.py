"""OpenRLHF remote-reward requests: splitting a decoded query into its prompt's turns and the response."""

from __future__ import annotations

import pytest

from constitution.data import Message
from constitution.openrlhf import QueryFormatError, prompt_messages, reward_items, split_response

LLAMA3 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nHow do I boil an egg?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def _m(role: str, content: str) -> Message:
    return Message(role=role, content=content)


def test_chatml_prompt_from_the_real_chat_template(judge_tokenizer):
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "How do I boil an egg?"},
        {"role": "assistant", "content": "Put it in boiling water."},
        {"role": "user", "content": "For how long?"},
    ]
    prompt = judge_tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert prompt_messages(prompt) == [_m(**turn) for turn in conversation]


def test_llama3_and_hh_prompts():
    assert prompt_messages(LLAMA3) == [_m("system", "Be brief."), _m("user", "How do I boil an egg?")]
    hh = "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water.\n\nHuman: For how long?\n\nAssistant:"
    assert prompt_messages(hh) == [
        _m("user", "How do I boil an egg?"), _m("assistant", "Put it in boiling water."), _m("user", "For how long?")
    ]  # fmt: skip


@pytest.mark.parametrize(
    "prompt",
    [
        "Question: what is 2 + 2?\nAnswer:",
        "<|im_start|>tool\n{}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",  # unknown role
        "Rules first.\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",  # text outside the turns
        "Preamble\n\nHuman: hi\n\nAssistant:",
    ],
    ids=["plain", "unknown role", "text outside turns", "text before HH turns"],
)
def test_a_prompt_in_no_known_format_is_one_user_turn(prompt):
    assert prompt_messages(prompt) == [_m("user", prompt.strip())]
    assert prompt_messages("") == []


def test_the_response_is_what_follows_the_prompt_without_pads_or_eos(judge_tokenizer):
    tok = judge_tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "Name a cat."}], tokenize=False, add_generation_prompt=True)
    response = "Miso, or Pepper."
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    ids = [pad] * 3 + tok(prompt, add_special_tokens=False)["input_ids"] + tok(response, add_special_tokens=False)["input_ids"]
    query = tok.decode(ids + [tok.eos_token_id, pad], skip_special_tokens=False)  # as OpenRLHF decodes a padded row
    assert query.startswith("<|endoftext|>") and query.endswith("<|im_end|><|endoftext|>")
    assert split_response(query, prompt) == response
    assert split_response(LLAMA3 + " Boil it for 8 minutes.<|eot_id|>", LLAMA3) == "Boil it for 8 minutes."
    assert split_response("<pad><pad>Q: hi\nA: hello</s>", "Q: hi\nA:") == "hello"


@pytest.mark.parametrize(
    "query, prompt",
    [("Q: something else\nA: yes", "Q: hi\nA:"), ("noise Q: hi\nA: hello", "Q: hi\nA:")],
    ids=["another prompt", "text before the prompt"],
)
def test_a_query_that_does_not_start_with_its_prompt_is_refused(query, prompt):
    with pytest.raises(QueryFormatError, match="query 1: the query does not start with its prompt"):
        reward_items(["Q: hi\nA: fine", query], ["Q: hi\nA:", prompt])


def test_reward_items_pairs_each_query_with_its_prompt():
    hh = "\n\nHuman: hi\n\nAssistant:"
    assert reward_items([hh + " Hello!", "<s>Say yes. yes</s>"], [hh, "Say yes."]) == [
        ([_m("user", "hi")], "Hello!"), ([_m("user", "Say yes.")], "yes")
    ]  # fmt: skip
    with pytest.raises(QueryFormatError, match="2 queries but 1 prompts"):
        reward_items(["a", "b"], ["a"])
