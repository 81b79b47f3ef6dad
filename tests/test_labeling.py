"""The labeler's logic: debiasing, ensembling, statistics, cache reuse, edit-one-principle, resume, CoT clamp,
what a weight or principle edit re-draws, over-long pairs, failed judgments and rationales.

A scripted judge (a real object implementing the backend protocol, with known preferences and a known position
bias) makes the expected numbers exact; tests/llm and tests/cli run the same code on the real judge.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from constitution.data import Message, Pair
from constitution.labeling import JudgmentCache, LabelConfig, Labeler, ListSink, agreement, label_pairs
from constitution.labeling.table import format_summary
from constitution.llm.base import FeedbackError, OptionResult
from constitution.llm.options import two_way
from constitution.loader import load_constitution
from constitution.resources import default_principles
from tests.helpers.scripted_judge import ScriptedJudge, word_pair

_pair = word_pair


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A two-principle constitution: 'kind' (weight 3) and 'short' (weight 1), every principle asked."""
    (tmp_path / "p.yaml").write_text(
        "kind: principle_set\nid: s\nprinciples:\n"
        "  - id: kind\n    text: Which response is more kind?\n    weight: 3\n"
        "  - id: short\n    text: Which response is more short?\n"
    )
    return tmp_path


class _Labeler(Labeler):
    def label(self, pairs, sink=None, progress=None):  # the in-memory form: (records in input order, summary)
        return label_pairs(self, pairs) if sink is None else super().label(pairs, sink, progress)


def _labeler(folder: Path, judge: ScriptedJudge, cache_path: Path, **config) -> Labeler:
    return _Labeler(load_constitution(folder), judge, JudgmentCache(cache_path), LabelConfig(**config))


def test_two_way_and_agreement():
    assert two_way([math.log(0.3), math.log(0.1)]) == pytest.approx(0.75)
    assert agreement([0.9, 0.2, 0.5], [1.0, 1.0, 1.0]) == pytest.approx(0.5)


def test_both_orders_cancel_pure_position_bias(folder: Path, tmp_path: Path):
    judge = ScriptedJudge(bias=1.5)
    labeler = _labeler(folder, judge, tmp_path / "c.sqlite")
    records, summary = labeler.label([_pair(0, "one reply", "another reply")])  # neither has a word the judge likes
    assert records[0].p_a == pytest.approx(0.5, abs=1e-12)
    assert summary.same_position_pct == 100.0 and summary.slot_a_pct == 0.0
    single, s1 = _labeler(folder, ScriptedJudge(bias=1.5), tmp_path / "d.sqlite", both_orders=False).label([_pair(0, "one reply", "another reply")])
    assert single[0].p_a == pytest.approx(1 / (1 + math.exp(1.5)))
    assert s1.same_position_pct is None
    assert records[0].position_consistent is False and single[0].position_consistent is None  # one order: unknown


def test_identical_responses_are_a_tie_without_asking_the_judge(tmp_path: Path):
    """Were judged (every judgment 0.5) and went into training unsaid; now p = 0.5 per principle drawn, no judge
    call, and the summary counts them. The shipped constitution: 24 principles, 4 drawn per pair."""
    judge = ScriptedJudge(bias=1.5)
    labeler = _Labeler(load_constitution(default_principles()), judge, JudgmentCache(tmp_path / "c.sqlite"), LabelConfig())
    pairs = [_pair(0, "a kind reply", "a short reply"), _pair(1, "Same answer.", "Same answer."), _pair(2, "x", "x")]
    records, summary = labeler.label(pairs)
    assert len(judge.scored) == 4 * 2  # pair 0 only: 4 principles in both orders
    assert [r.id for r in records] == ["0", "1", "2"]
    for tie in records[1:]:
        assert tie.p_a == 0.5 and len(tie.per_principle) == 4 and set(tie.per_principle.values()) == {0.5}
        assert tie.position_consistent is None and tie.judge == "scripted"
    assert summary.pairs == 1 and summary.pairs_identical == 2 and summary.judgments == 8
    assert "identical responses 2" in format_summary(summary)


def test_debiased_ensemble_matches_hand_computation(folder: Path, tmp_path: Path):
    judge = ScriptedJudge(bias=1.0, margin=2.0)
    records, summary = _labeler(folder, judge, tmp_path / "c.sqlite").label([_pair(0, "a kind reply", "a short reply")])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # 'kind': A/B order: logits (2, 1) -> P(a)=sig(1); B/A order: slot A = b (0), slot B = a (2+1) -> P(a)=sig(3)
    p_kind = (sig(1) + sig(3)) / 2
    # 'short': A/B: (0, 2+1) -> P(a)=sig(-3); B/A: slot A = b (2), slot B = a (1) -> P(a)=sig(-1)
    p_short = (sig(-3) + sig(-1)) / 2
    r = records[0]
    assert r.per_principle == pytest.approx({"kind": p_kind, "short": p_short})
    assert r.p_a == pytest.approx((3 * p_kind + p_short) / 4)
    assert r.chosen[0].content == "a kind reply" and r.p_chosen == pytest.approx(r.p_a)
    assert r.judge == "scripted" and r.constitution_hash == load_constitution(folder).hash
    assert summary.judgments == 4 and summary.judgments_computed == 4
    assert summary.agreement == 1.0


def test_cached_judgments_are_not_asked_again(folder: Path, tmp_path: Path):
    pairs = [_pair(i, f"kind {i}", f"short {i}") for i in range(5)]
    first = _labeler(folder, ScriptedJudge(), tmp_path / "c.sqlite").label(pairs)[0]
    judge = ScriptedJudge()
    again, summary = _labeler(folder, judge, tmp_path / "c.sqlite").label(pairs)
    assert judge.scored == [] and summary.judgments_cached == 20
    assert [r.p_a for r in again] == [r.p_a for r in first]


def test_editing_one_principle_rejudges_only_that_principle(folder: Path, tmp_path: Path):
    pairs = [_pair(i, f"kind {i}", f"short {i}") for i in range(6)]
    _labeler(folder, ScriptedJudge(), tmp_path / "c.sqlite").label(pairs)
    spec = folder / "p.yaml"
    spec.write_text(spec.read_text().replace("more short?", "more short and direct?"))
    judge = ScriptedJudge()
    _, summary = _labeler(folder, judge, tmp_path / "c.sqlite").label(pairs)
    assert len(judge.scored) == 12 == summary.judgments_computed  # 6 pairs x 2 orders, principle 'short' only
    assert all("more short and direct?" in text for text in judge.scored)
    # a weight change re-ensembles without asking the judge at all
    spec.write_text(spec.read_text().replace("weight: 3", "weight: 1"))
    judge = ScriptedJudge()
    records, _ = _labeler(folder, judge, tmp_path / "c.sqlite").label(pairs)
    assert judge.scored == [] and records[0].p_a == pytest.approx(sum(records[0].per_principle.values()) / 2)


def test_crash_mid_run_keeps_finished_batches_and_resumes_exactly(folder: Path, tmp_path: Path):
    pairs = [_pair(i, f"kind {i}", f"short {i}") for i in range(10)]
    reference = _labeler(folder, ScriptedJudge(), tmp_path / "ref.sqlite").label(pairs)[0]
    judge = ScriptedJudge()
    judge.fail_after = 25
    with pytest.raises(RuntimeError, match="judge died"):
        _labeler(folder, judge, tmp_path / "c.sqlite").label(pairs)
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 24  # every answer received before the crash was stored
    judge = ScriptedJudge()
    records, summary = _labeler(folder, judge, tmp_path / "c.sqlite").label(pairs)
    assert len(judge.scored) == 40 - 24 and summary.judgments_cached == 24
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 40
    assert [r.model_dump() for r in records] == [r.model_dump() for r in reference]


def test_chain_of_thought_is_clamped_and_keyed_apart(folder: Path, tmp_path: Path):
    judge = ScriptedJudge(bias=0.0, margin=8.0, rationale="A is kinder.")
    records, _ = _labeler(folder, judge, tmp_path / "c.sqlite", chain_of_thought=True).label([_pair(0, "kind", "short")])
    assert records[0].per_principle == pytest.approx({"kind": 0.6, "short": 0.4})
    assert records[0].judge == "scripted:cot"
    assert all("Let's think step by step:A is kinder.\nSo the answer is: (" in t for t in judge.scored)


def test_unusable_logprobs_fail_their_pair_never_a_label(folder: Path, tmp_path: Path):
    class NanJudge(ScriptedJudge):
        def option_logprobs(self, prompts, options):
            good = super().option_logprobs(prompts, options)
            return [[float("nan"), -1.0] if "poison" in t else lp for t, lp in zip(prompts, good)]

    labeler = _labeler(folder, NanJudge(), tmp_path / "c.sqlite")
    sink = ListSink()
    summary = labeler.label([_pair(0, "kind", "short"), _pair(1, "poison", "short"), _pair(2, "kind", "x")], sink)
    assert [r.id for r in sink.in_order()] == ["0", "2"] and summary.pairs == 2 and summary.pairs_failed == 1
    assert list(sink.failed_ids) == ["1"] and "unusable log-probs" in sink.failed_ids["1"]
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 8  # the good pairs' judgments; none made up for pair 1


def test_a_dead_judge_stops_the_run_after_a_streak_and_keeps_what_it_had(folder: Path, tmp_path: Path):
    class DyingJudge(ScriptedJudge):
        def score_options(self, requests):
            for result in super().score_options(requests):
                dead = len(self.scored) > 8
                yield OptionResult(result.key, None, "connection refused") if dead else result

    pairs = [_pair(i, f"kind {i}", f"short {i}") for i in range(20)]
    with pytest.raises(FeedbackError, match="5 judgments in a row failed"):
        _labeler(folder, DyingJudge(), tmp_path / "c.sqlite", max_failure_streak=5).label(pairs)
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 8


def test_sampling_rule_k_asks_k_principles(tmp_path: Path):
    judge = ScriptedJudge()
    records, summary = _Labeler(load_constitution(default_principles()), judge, JudgmentCache(tmp_path / "c.sqlite")).label(
        [_pair(i, "kind", "short") for i in range(3)]
    )
    assert all(len(r.per_principle) == 4 for r in records)
    assert summary.judgments == 3 * 4 * 2


def _default_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "principles"
    shutil.copytree(default_principles(), folder)
    return folder


def _relabel(folder: Path, cache: Path, pairs: list[Pair]) -> tuple[ScriptedJudge, list]:
    judge = ScriptedJudge()
    records, _ = _labeler(folder, judge, cache).label(pairs)
    return judge, records


def test_a_weight_or_principle_edit_asks_only_the_pairs_it_re_draws(tmp_path: Path):
    """k=4 of 24 principles, drawn by weight: zeroing one principle's weight asks the judge only about the pairs
    that had drawn it, one principle each (the next of their draw); a new principle is asked only where it enters a
    pair's draw (about k/K of the pairs), and only it."""
    folder, cache = _default_copy(tmp_path), tmp_path / "c.sqlite"
    pairs = [_pair(i, f"kind {i}", f"short {i}") for i in range(120)]
    _, before = _relabel(folder, cache, pairs)
    harm = folder / "harmlessness.yaml"
    harm.write_text(harm.read_text().replace("    tags: [harm]\n", "    tags: [harm]\n    weight: 0\n", 1))
    judge, zeroed = _relabel(folder, cache, pairs)
    had = [i for i, r in enumerate(before) if "least-harmful" in r.per_principle]
    assert had and [i for i, (b, z) in enumerate(zip(before, zeroed)) if b.per_principle.keys() != z.per_principle.keys()] == had
    assert all(set(before[i].per_principle) - set(zeroed[i].per_principle) == {"least-harmful"} for i in had)
    assert all(len(r.per_principle) == 4 for r in zeroed) and len(judge.scored) == 2 * len(had)

    helpful = folder / "helpfulness.yaml"
    question = "Which response is the most cheerful about the weather?"
    helpful.write_text(helpful.read_text() + f"  - id: cheerful\n    text: {question}\n")
    judge, added = _relabel(folder, cache, pairs)
    pairs_with_new = sum("cheerful" in r.per_principle for r in added)
    assert all(question in text for text in judge.scored)
    assert len(judge.scored) == 2 * pairs_with_new
    assert 2 <= pairs_with_new <= 30  # expected about 120 * 4 * 0.5 / (sum of the weights) ≈ 10
    assert sum(set(a.per_principle) != set(z.per_principle) for a, z in zip(added, zeroed)) == pairs_with_new


def test_two_way_is_stable_at_the_extremes():
    assert two_way([-9999.0, -1.0]) == pytest.approx(0.0, abs=1e-300)  # vllm serve's stand-in for -inf
    assert two_way([-1.0, -9999.0]) == 1.0
    assert two_way([-1000.0, -1000.0]) == 0.5 and two_way([-9999.0, -9999.0]) == 0.5
    assert two_way([float("-inf"), float("-inf")]) == 0.5
    assert two_way([0.0, float("-inf")]) == 1.0 and two_way([float("-inf"), 0.0]) == 0.0
    assert two_way([-800.0, -1.0]) == pytest.approx(math.exp(-799.0), rel=1e-9, abs=0)


def test_an_asymmetric_cot_clamp_is_refused():
    with pytest.raises(ValueError, match="symmetric"):
        LabelConfig(cot_clamp=(0.3, 0.6))
    assert LabelConfig(cot_clamp=(0.3, 0.7)).cot_clamp == (0.3, 0.7)


def test_an_over_long_pair_is_shortened_from_the_start_or_skipped(folder: Path, tmp_path: Path, judge_tokenizer):
    class TokenJudge(ScriptedJudge):
        tokenizer = judge_tokenizer
        max_model_len = 320

    turns = [Message(role=r, content=f"{'Earlier question' if r == 'user' else 'Earlier answer'} {i}: " + "blah " * 30) for i, r in enumerate(["user", "assistant"] * 3)]
    long_chat = _pair(1, "kind", "short").model_copy(update={"prompt": [*turns, Message(role="user", content="Now, last question?")]})
    too_long = _pair(2, "kind", "short").model_copy(update={"prompt": [Message(role="user", content="word " * 400)]})
    judge = TokenJudge()
    labeler = Labeler(load_constitution(folder), judge, JudgmentCache(tmp_path / "c.sqlite"))
    sink = ListSink()
    summary = labeler.label([_pair(0, "kind", "short"), long_chat, too_long], sink)
    records = sink.in_order()
    assert [r.id for r in records] == ["0", "1"] and [r.truncated for r in records] == [False, True]
    assert sink.truncated_ids == ["1"] and list(sink.skipped_ids) == ["2"] and "even with only the last user turn" in sink.skipped_ids["2"]
    assert summary.pairs_truncated == 1 and summary.pairs_skipped == 1
    shown = [t for t in judge.scored if "last question" in t]
    assert shown and all("Earlier question 0" not in t and "Now, last question?" in t for t in shown)
    assert all(len(judge_tokenizer(t, add_special_tokens=False)["input_ids"]) < 320 for t in judge.scored)
    assert records[1].prompt == long_chat.prompt  # the record keeps the whole conversation


def test_a_failed_rationale_fails_only_its_pair(folder: Path, tmp_path: Path, judge_tokenizer):
    """Chain-of-thought through the real endpoint client against a fake server that injects the fault: it refuses
    every rationale request for one pair's conversation, and answers everything else."""
    from constitution.llm.config import OpenAIConfig
    from constitution.llm.openai_backend import OpenAIBackend
    from tests.llm.llm_helpers import FakeServer, ok_body

    def script(number, payload):
        refused = not payload.get("logprob_token_ids") and "poison" in judge_tokenizer.decode(payload["prompt"])
        return (400, b'{"error": "injected"}') if refused else (200, ok_body(payload))

    pairs = [_pair(0, "kind", "short"), _pair(1, "poison", "short"), _pair(2, "kind", "x")]
    with FakeServer(script) as server:
        judge = OpenAIBackend(OpenAIConfig(base_urls=[server.base_url], max_retries=0, max_model_len=2048), tokenizer=judge_tokenizer)
        labeler = Labeler(load_constitution(folder), judge, JudgmentCache(tmp_path / "c.sqlite"), LabelConfig(chain_of_thought=True))
        sink = ListSink()
        summary = labeler.label(pairs, sink)
        judge.close()
    assert [r.id for r in sink.in_order()] == ["0", "2"] and summary.pairs == 2 and summary.pairs_failed == 1
    assert list(sink.failed_ids) == ["1"] and "no rationale" in sink.failed_ids["1"] and "injected" in sink.failed_ids["1"]
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 8  # the other pairs' judgments; nothing made up for pair 1


def test_a_jury_labels_identical_responses_without_a_vote(tmp_path: Path, reward_folder: Path):
    """Two real reward-model judges: the identical pair is written at 0.5, counted once, and left out of the
    agreement figures (it is no vote)."""
    from constitution.labeling.jury.config import JudgeSpec
    from constitution.labeling.run import label_dataset
    from constitution.llm.config import llm_config

    pairs = tmp_path / "pairs.jsonl"
    rows = [("0", "a kind reply", "a short reply"), ("1", "Same answer.", "Same answer."), ("2", "yes", "no")]
    pairs.write_text("".join(f'{{"id": "{i}", "prompt": "q {i}", "response_a": "{a}", "response_b": "{b}"}}\n' for i, a, b in rows))
    judges = [JudgeSpec(llm=llm_config(backend="reward", model=str(reward_folder), reward_temperature=t), name=f"t{t}") for t in (1.0, 2.0)]
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        summary = label_dataset(str(pairs), tmp_path / "out", load_constitution(default_principles()), judges, cache, show_progress=False)
    assert summary.pairs_identical == 1 and summary.pairs == 2 and summary.judgments == 2 * 2 * 4 * 2
    assert summary.pairwise[0].pairs == 2
    labels = [json.loads(line) for line in (tmp_path / "out" / "labels.jsonl").read_text().splitlines()]
    assert [r["id"] for r in labels] == ["0", "1", "2"] and labels[1]["p_a"] == 0.5
