"""OpenRLHF's remote reward requests, read as (conversation, response) so a reward model sees its own input format.

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}`` to ``--remote_rm_url``
(``SingleTurnAgentExecutor._fetch_rewards_via_http`` today, ``remote_rm_utils.remote_rm_fn`` before): each query is
``tokenizer.decode(prompt_ids + response_ids, skip_special_tokens=False)`` of the policy (older versions decoded
left-padded rows, so it may start with pad tokens, and it ends with the EOS token when generation stopped there),
and each prompt is the chat-templated prompt string it was generated from. Scoring the query as raw text would feed
the reward model the *policy's* chat format. Instead the response is what follows the prompt in the query, and the
prompt's turns are read back from the template: ChatML (``<|im_start|>role\\n…<|im_end|>``), Llama 3
(``<|start_header_id|>role<|end_header_id|>…<|eot_id|>``) and HH (``\\n\\nHuman: …\\n\\nAssistant:``); any other
prompt becomes one user turn holding its text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from constitution.data import Message

# Special-token spellings: <|...|> (ChatML, Llama 3, Qwen, Phi), <｜...｜> (DeepSeek), SentencePiece and BERT ones.
_SPECIAL = r"<\|[^<>|\s]*\|>|<｜[^<>｜]*｜>|</?s>|<pad>|<eos>|<bos>|<unk>|<end_of_turn>|\[PAD\]|\[SEP\]|\[CLS\]"
_ONLY_SPECIAL = re.compile(rf"(?:{_SPECIAL})*")
_TRAILING = re.compile(rf"(?:{_SPECIAL}|\s)+$")
_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "Human": "user", "Assistant": "assistant"}
# (turn pattern, the open assistant header a generation prompt ends with)
_TEMPLATES = (
    (re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.S), re.compile(r"<\|im_start\|>assistant\s*$")),
    (
        re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>(.*?)<\|eot_id\|>", re.S),
        re.compile(r"<\|start_header_id\|>assistant<\|end_header_id\|>\s*$"),
    ),
)
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")


class QueryFormatError(ValueError):
    """A query that does not consist of its prompt and a response."""


def split_response(query: str, prompt: str) -> str:
    """The response inside ``query``: what follows ``prompt`` (after leading pad tokens), minus trailing EOS/pad."""
    start = query.find(prompt)
    if start < 0 or not _ONLY_SPECIAL.fullmatch(query[:start]):
        raise QueryFormatError("the query does not start with its prompt (after leading pad tokens)")
    return _TRAILING.sub("", query[start + len(prompt) :]).strip()


def _turns(pairs: Sequence[tuple[str, str]]) -> list[Message] | None:
    if not pairs or any(role not in _ROLES for role, _ in pairs):
        return None
    return [Message(role=_ROLES[role], content=content.strip()) for role, content in pairs]


def _templated(prompt: str) -> list[Message] | None:
    """Turns of a ChatML or Llama 3 prompt, or None if it is neither (or has text outside its turns)."""
    for turn, generation_header in _TEMPLATES:
        pairs = turn.findall(prompt)
        rest = generation_header.sub("", turn.sub("", prompt))
        if pairs and _ONLY_SPECIAL.fullmatch(re.sub(r"\s", "", rest)):
            return _turns(pairs)
    return None


def _hh(prompt: str) -> list[Message] | None:
    """Turns of an HH dialogue ending with the open ``\\n\\nAssistant:``, or None."""
    parts = _HH_TURN.split(prompt)
    if len(parts) < 3 or parts[0].strip():
        return None
    pairs = list(zip(parts[1::2], parts[2::2]))
    if pairs[-1][0] == "Assistant" and not pairs[-1][1].strip():
        pairs = pairs[:-1]
    return _turns(pairs)


def prompt_messages(prompt: str) -> list[Message]:
    """The conversation in a chat-templated prompt; a prompt in no known format is one user turn."""
    messages = _templated(prompt) or _hh(prompt)
    if messages is not None:
        return messages
    return [Message(role="user", content=prompt.strip())] if prompt.strip() else []


def reward_items(queries: Sequence[str], prompts: Sequence[str]) -> list[tuple[list[Message], str]]:
    """(conversation, response) per query; QueryFormatError names the first query that does not fit its prompt."""
    if len(queries) != len(prompts):
        raise QueryFormatError(f"{len(queries)} queries but {len(prompts)} prompts")
    items = []
    for i, (query, prompt) in enumerate(zip(queries, prompts)):
        try:
            items.append((prompt_messages(prompt), split_response(query, prompt)))
        except QueryFormatError as exc:
            raise QueryFormatError(f"query {i}: {exc}") from None
    return items
