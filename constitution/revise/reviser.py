"""Constitutional AI's supervised stage (Bai et al. 2022): a reply is critiqued by a sampled principle, then
revised after the critique, for N rounds; the last revision is the supervised target.

Chains go through in chunks of ``batch_size``: the chunk's missing initial replies, then round by round its
critiques and its revisions, each step one policy call for the whole chunk. Every text is looked up in the
:class:`GenerationCache` first and stored there as soon as its call returns, so a killed run loses at most the
call in flight and a rerun generates only what is not stored. A request that would not fit the policy's context
(``max_model_len``, leaving ``max_tokens`` to write) drops its chain, listed in ``skipped.jsonl`` with the reason.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from constitution.generation import prompt_id, render_prompt
from constitution.hashing import content_hash
from constitution.llm.base import LLM, encode_prompts
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.prompts import critique_prompt, revision_prompt
from constitution.revise.cache import Generation, GenerationCache, GenerationKey
from constitution.revise.config import ReviseConfig
from constitution.revise.inputs import ChainInput
from constitution.revise.output import ReviseWriter
from constitution.revise.plan import round_principles
from constitution.revise.records import Chain, ReviseSummary, RevisionRound

Progress = Callable[[int], object]


@dataclass
class _State:
    """A chain under way: the reply the next round critiques, and the rounds done."""

    item: ChainInput
    principles: list[ResolvedPrinciple]
    original: str | None
    rounds: list[RevisionRound] = field(default_factory=list)
    skipped: str | None = None

    @property
    def reply(self) -> str | None:
        return self.rounds[-1].revision if self.rounds else self.original


class _Request(NamedTuple):
    state: _State
    step: str
    round: int
    text: str


class Reviser:
    """Runs chains against a constitution with one policy, through a generation cache."""

    def __init__(self, constitution: Constitution, llm: LLM, cache: GenerationCache, config: ReviseConfig) -> None:
        self.constitution = constitution
        self.llm = llm
        self.cache = cache
        self.config = config
        self.sampling = config.sampling_hash()

    def _fits(self, texts: list[str]) -> list[bool]:
        limit = self.llm.max_model_len
        if limit is None:
            return [True] * len(texts)
        return [len(ids) + self.config.max_tokens <= limit for ids in encode_prompts(self.llm.tokenizer, texts)]

    def _generate(self, requests: list[_Request], summary: ReviseSummary) -> list[str | None]:
        """Each request's text (stripped), from the cache or the policy; None for one that does not fit (its chain
        is marked skipped)."""
        if not requests:
            return []
        fits = self._fits([r.text for r in requests])
        keys = [GenerationKey(self.llm.identity, content_hash(r.text), r.round, self.sampling) for r in requests]
        found = self.cache.get_many(k for k, ok in zip(keys, fits) if ok)
        missing: dict[GenerationKey, _Request] = {}
        for key, request, ok in zip(keys, requests, fits):
            if not ok:
                request.state.skipped = (
                    f"the {request.step} request of round {request.round} does not fit the policy's max_model_len "
                    f"({self.llm.max_model_len} tokens, {self.config.max_tokens} of them to write)"
                )
            elif key in found:
                summary.cached[request.step] = summary.cached.get(request.step, 0) + 1
            else:
                missing.setdefault(key, request)
        if missing:
            outputs = self.llm.generate(
                [r.text for r in missing.values()],
                max_tokens=self.config.max_tokens, temperature=self.config.temperature, seed=self.config.seed,
            )  # fmt: skip
            new = [Generation(key, r.step, out[0]) for (key, r), out in zip(missing.items(), outputs)]
            self.cache.put_many(new)
            found.update((g.key, g.text) for g in new)
            for step, n in Counter(r.step for r in missing.values()).items():
                summary.generated[step] = summary.generated.get(step, 0) + n
        return [found[key].strip() if ok else None for key, ok in zip(keys, fits)]

    def _chunk(self, items: list[ChainInput], summary: ReviseSummary) -> list[_State]:
        rounds, tokenizer = self.config.rounds, self.llm.tokenizer
        states = [
            _State(item, round_principles(self.constitution, prompt_id(item.conversation), rounds, self.config.seed), item.response)
            for item in items
        ]
        unanswered = [s for s in states if s.original is None]
        answers = self._generate([_Request(s, "response", 0, render_prompt(tokenizer, s.item.conversation)) for s in unanswered], summary)
        for state, answer in zip(unanswered, answers):
            state.original = answer
        for r in range(1, rounds + 1):
            live = [s for s in states if s.skipped is None]
            critiques = self._generate(
                [_Request(s, "critique", r, critique_prompt(self.constitution, s.principles[r - 1], s.item.conversation, s.reply, tokenizer)) for s in live],
                summary,
            )
            critiqued = [(s, c) for s, c in zip(live, critiques) if c is not None]
            revisions = self._generate(
                [
                    _Request(s, "revision", r, revision_prompt(self.constitution, s.principles[r - 1], s.item.conversation, s.reply, c, tokenizer))
                    for s, c in critiqued
                ],
                summary,
            )
            for (state, critique), revision in zip(critiqued, revisions):
                if revision is not None:
                    p = state.principles[r - 1]
                    state.rounds.append(
                        RevisionRound(round=r, principle_id=p.id, critique_request=p.critique, critique=critique, revision_request=p.revision, revision=revision)
                    )
        return states

    def run(self, items: list[ChainInput], out: str | Path, progress: Progress | None = None) -> ReviseSummary:
        """Revise every input into the folder ``out`` (see :mod:`constitution.revise.output`)."""
        start = time.perf_counter()
        summary = ReviseSummary(inputs=len(items), rounds=self.config.rounds, policy=self.llm.name, policy_identity=self.llm.identity)
        with ReviseWriter(out) as writer:
            for begin in range(0, len(items), self.config.batch_size):
                chunk = items[begin : begin + self.config.batch_size]
                for state in self._chunk(chunk, summary):
                    if state.skipped is not None:
                        writer.skipped(state.item.id, state.skipped, summary)
                        continue
                    writer.chain(
                        Chain(
                            id=state.item.id, prompt=state.item.conversation, response=state.original or "",
                            response_source="input" if state.item.response is not None else "policy",
                            rounds=state.rounds, final=state.reply or "", policy=self.llm.name,
                        ),  # fmt: skip
                        summary,
                    )
                if progress is not None:
                    progress(len(chunk))
            summary.seconds = round(time.perf_counter() - start, 3)
            writer.finish(summary)
        return summary
