"""`revise` with the real embedded policy (SmolLM2-135M via transformers, fp32, a few tokens per text): the chain's
structure, the folder's three datasets (TRL SFT rows, the full chains, pairs for `label`), a rerun that generates
nothing, and an edited principle that redoes only the chains that drew it, from the step it changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.data.pairs import load_pairs
from constitution.generation import prompt_id
from constitution.hashing import content_hash
from constitution.llm.config import HfConfig
from constitution.loader import load_constitution
from constitution.prompts import critique_prompt, revision_prompt
from constitution.revise import Chain, GenerationCache, GenerationKey, ReviseConfig, Reviser, load_inputs, round_principles
from tests.revise.helpers import ROWS, write_principles, write_rows

pytestmark = pytest.mark.slow


def _revise(principles: Path, inputs: Path, out: Path, llm, **settings) -> tuple:
    constitution = load_constitution(principles)
    config = ReviseConfig(policy=HfConfig(model=str(llm.name)), **{"rounds": 2, "max_tokens": 8, "batch_size": 4, **settings})
    with GenerationCache(out / "generations.sqlite") as cache:
        summary = Reviser(constitution, llm, cache, config).run(load_inputs(inputs), out)
        rows = cache.count()
    return summary, rows, constitution, config


def _chains(out: Path) -> dict[str, Chain]:
    return {c.id: c for c in (Chain.model_validate_json(line) for line in (out / "chains.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, hf_judge):
    """Three replies to revise, one prompt the policy answers first, and one reply too long for the policy."""
    tmp = tmp_path_factory.mktemp("revise")
    principles = write_principles(tmp / "principles")
    rows = [*ROWS[:3], ("Tell me a joke.", None), ("Summarise this.", "word " * 2100)]
    inputs = write_rows(tmp / "in.jsonl", rows)
    out = tmp / "out"
    summary, cache_rows, constitution, config = _revise(principles, inputs, out, hf_judge)
    return out, principles, inputs, summary, cache_rows, constitution, config


def test_each_chain_has_n_rounds_of_principle_critique_and_revision(first_run, hf_judge):
    out, _, inputs, summary, cache_rows, constitution, config = first_run
    assert summary.generated == {"response": 1, "critique": 8, "revision": 8}
    assert cache_rows == 17 and summary.chains == 4 and summary.skipped == 1
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert len(skipped) == 1 and "max_model_len" in skipped[0]["reason"]

    chains = _chains(out)
    items = {i.id: i for i in load_inputs(inputs)}
    with GenerationCache(out / "generations.sqlite") as cache:
        for chain in chains.values():
            item = items[chain.id]
            assert chain.response_source == ("policy" if item.response is None else "input")
            assert item.response is None or chain.response == item.response
            drawn = round_principles(constitution, prompt_id(item.conversation), 2, seed=0)
            assert [r.round for r in chain.rounds] == [1, 2]
            assert [r.principle_id for r in chain.rounds] == [p.id for p in drawn]
            reply = chain.response
            for rnd, p in zip(chain.rounds, drawn):
                assert (rnd.critique_request, rnd.revision_request) == (p.critique, p.revision)
                # each critique is of the reply the round received, each revision follows that critique
                for text, stored in (
                    (critique_prompt(constitution, p, item.conversation, reply, hf_judge.tokenizer), rnd.critique),
                    (revision_prompt(constitution, p, item.conversation, reply, rnd.critique, hf_judge.tokenizer), rnd.revision),
                ):
                    key = GenerationKey(hf_judge.identity, content_hash(text), rnd.round, config.sampling_hash())
                    assert cache.get_many([key])[key].strip() == stored
                reply = rnd.revision
            assert chain.final == reply == chain.rounds[-1].revision


def test_the_folder_holds_sft_rows_and_pairs_for_label(first_run):
    out = first_run[0]
    chains = _chains(out)
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == first_run[3].sft_rows == sum(1 for c in chains.values() if c.final.strip())
    for row in sft:
        chain = chains[row["id"]]
        assert row["prompt"] == [m.model_dump() for m in chain.prompt]
        assert row["completion"] == [{"role": "assistant", "content": chain.final}]
    pairs, _ = load_pairs(out / "pairs.jsonl")
    assert pairs and len(pairs) == first_run[3].pairs
    for pair in pairs:
        assert (pair.response_a, pair.response_b) == (chains[pair.id].response, chains[pair.id].final)


def test_sft_rows_are_what_trl_sft_trainer_reads(first_run, judge_model_path, tmp_path):
    trl = pytest.importorskip("trl")
    from datasets import Dataset

    rows = [json.loads(line) for line in (first_run[0] / "sft.jsonl").read_text().splitlines()]
    args = trl.SFTConfig(output_dir=str(tmp_path), max_steps=1, report_to="none", use_cpu=True, max_length=512)
    trainer = trl.SFTTrainer(model=judge_model_path, args=args, train_dataset=Dataset.from_list(rows))
    assert trainer.completion_only_loss  # prompt/completion columns: the loss is on the revision only
    first = trainer.train_dataset[0]
    completion = [t for t in first["labels"] if t != -100]  # the tokens the loss is computed on
    text = trainer.processing_class.decode(completion)
    assert rows[0]["completion"][0]["content"].strip()[:20] in text
    assert rows[0]["prompt"][0]["content"] not in text


def test_rerun_generates_nothing_and_rewrites_the_same_files(first_run, hf_judge):
    out, principles, inputs, *_ = first_run
    before = {name: (out / name).read_bytes() for name in ("chains.jsonl", "sft.jsonl", "pairs.jsonl", "skipped.jsonl")}
    summary, rows, *_ = _revise(principles, inputs, out, hf_judge)
    assert summary.generated == {} and sum(summary.cached.values()) == 17 and rows == 17
    assert {name: (out / name).read_bytes() for name in before} == before


def _edit(principles: Path, pid: str, key: str, new: str) -> None:
    demo = principles / "demo.yaml"
    lines = demo.read_text().splitlines(keepends=True)
    start = lines.index(f"  - id: {pid}\n")
    at = next(i for i in range(start, len(lines)) if lines[i].startswith(f"    {key}: "))
    lines[at] = f"    {key}: {new}\n"
    demo.write_text("".join(lines))


def test_editing_one_principle_redoes_only_the_chains_that_drew_it_from_that_step(tmp_path: Path, hf_judge):
    principles = write_principles(tmp_path / "principles")
    inputs = write_rows(tmp_path / "in.jsonl")
    out = tmp_path / "out"
    _, rows, constitution, _ = _revise(principles, inputs, out, hf_judge)
    assert rows == len(ROWS) * 4
    old = _chains(out)
    uses = {cid: [r.principle_id for r in c.rounds] for cid, c in old.items()}
    # the principle drawn by the fewest chains (but some): the others are the control group
    counts = {p.id: sum(p.id in u for u in uses.values()) for p in constitution.principles}
    target = min((p for p in counts if counts[p]), key=lambda p: counts[p])
    hit = {cid for cid, u in uses.items() if target in u}
    assert hit and len(hit) < len(old)
    first_use = {cid: uses[cid].index(target) + 1 for cid in hit}
    most = sum(2 * (2 - first_use[cid] + 1) for cid in hit)  # its round's critique and revision, and all later ones

    # 1. a new critique request: the critique of the first round that drew it is asked again, and what follows
    _edit(principles, target, "critique", "Name the single worst problem of the reply.")
    summary, rows_after, edited, _ = _revise(principles, inputs, out, hf_judge)
    assert [p.hash for p in edited.principles] == [p.hash for p in constitution.principles]  # labels untouched
    redone = sum(summary.generated.values())
    assert summary.generated.get("response", 0) == 0
    assert len(hit) <= summary.generated["critique"] and redone <= most, summary.generated
    assert rows_after == rows + redone
    new = _chains(out)
    for cid in old:
        if cid not in hit:
            assert new[cid] == old[cid]
        else:
            done_before = first_use[cid] - 1  # rounds before the first draw of the edited principle are kept
            assert new[cid].rounds[:done_before] == old[cid].rounds[:done_before]
            assert new[cid].rounds[done_before].critique_request == "Name the single worst problem of the reply."

    # 2. a new revision request: the critiques of its rounds are reused, only the revision (and what follows) is new
    _edit(principles, target, "revision", "Rewrite the reply in one sentence.")
    summary, _, _, _ = _revise(principles, inputs, out, hf_judge)
    last_round_only = sum(1 for cid in hit if first_use[cid] == 2)
    assert summary.generated["revision"] >= len(hit)
    assert summary.generated.get("critique", 0) <= len(hit) - last_round_only
    assert summary.cached["critique"] >= len(old) * 2 - (len(hit) - last_round_only)
    assert summary.generated.get("response", 0) == 0
