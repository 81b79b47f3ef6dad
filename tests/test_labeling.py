"""The labeler's logic: debiasing, ensembling, statistics, cache reuse, edit-one-principle, resume, CoT clamp.

A scripted judge (a real object implementing the backend protocol, with known preferences and a known position
bias) makes the expected numbers exact; tests/feedback and tests/cli run the same code on the real judge.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from constitution.cache import JudgmentCache
from constitution.data import Message, Pair
from constitution.labeling import LabelConfig, Labeler, agreement, two_way
from constitution.principles import load_constitution

ROOT = Path(__file__).resolve().parents[1]
SLOTS = re.compile(r"\(A\) (.*?)\n\n\(B\) (.*?)\n\nQuestion: (.*?)\n", re.S)


class ScriptedJudge:
    """Prefers the response that contains the word the principle asks about; adds `bias` nats to slot (B)."""

    judge_id = "scripted"
    tokenizer = None

    def __init__(self, bias: float = 1.0, margin: float = 2.0, rationale: str = "Thinking.") -> None:
        self.bias, self.margin, self.rationale = bias, margin, rationale
        self.scored: list[str] = []
        self.fail_after: int | None = None

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        if self.fail_after is not None and len(self.scored) + len(prompts) > self.fail_after:
            raise RuntimeError("judge died")
        out = []
        for text in prompts:
            a, b, question = SLOTS.search(text).groups()
            word = "kind" if "kind" in question else "short"
            la = self.margin * (word in a)
            lb = self.margin * (word in b) + self.bias
            z = math.log(math.exp(la) + math.exp(lb))
            out.append([la - z, lb - z])
        self.scored.extend(prompts)
        return out

    def generate(self, prompts, *, max_tokens, temperature=0.0, n=1, seed=None, stop=None):
        return [[self.rationale] * n for _ in prompts]

    def close(self) -> None:
        pass


def _pair(i: int, a: str, b: str, p_a: float | None = 1.0) -> Pair:
    return Pair(id=str(i), prompt=[Message(role="user", content=f"question {i}")], response_a=a, response_b=b, p_a=p_a)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A two-principle constitution: 'kind' (weight 3) and 'short' (weight 1), every principle asked."""
    (tmp_path / "p.yaml").write_text(
        "kind: principle_set\nid: s\nprinciples:\n"
        "  - id: kind\n    text: Which response is more kind?\n    weight: 3\n"
        "  - id: short\n    text: Which response is more short?\n"
    )
    return tmp_path


def _labeler(folder: Path, judge: ScriptedJudge, cache_path: Path, **config) -> Labeler:
    return Labeler(load_constitution(folder), judge, JudgmentCache(cache_path), LabelConfig(**config))


def test_two_way_and_agreement():
    assert two_way([math.log(0.3), math.log(0.1)]) == pytest.approx(0.75)
    assert agreement([0.9, 0.2, 0.5], [1.0, 1.0, 1.0]) == pytest.approx(0.5)


def test_both_orders_cancel_pure_position_bias(folder: Path, tmp_path: Path):
    judge = ScriptedJudge(bias=1.5)
    labeler = _labeler(folder, judge, tmp_path / "c.sqlite")
    records, summary = labeler.label([_pair(0, "same", "same")])
    assert records[0].p_a == pytest.approx(0.5, abs=1e-12)
    assert summary.same_position_pct == 100.0 and summary.slot_a_pct == 0.0
    single, s1 = _labeler(folder, ScriptedJudge(bias=1.5), tmp_path / "d.sqlite", both_orders=False).label([_pair(0, "same", "same")])
    assert single[0].p_a == pytest.approx(1 / (1 + math.exp(1.5)))
    assert s1.same_position_pct is None


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
        _labeler(folder, judge, tmp_path / "c.sqlite", batch_size=8).label(pairs)
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 24  # three whole batches were stored
    judge = ScriptedJudge()
    records, summary = _labeler(folder, judge, tmp_path / "c.sqlite", batch_size=8).label(pairs)
    assert len(judge.scored) == 40 - 24 and summary.judgments_cached == 24
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 40
    assert [r.model_dump() for r in records] == [r.model_dump() for r in reference]


def test_chain_of_thought_is_clamped_and_keyed_apart(folder: Path, tmp_path: Path):
    judge = ScriptedJudge(bias=0.0, margin=8.0, rationale="A is kinder.")
    records, _ = _labeler(folder, judge, tmp_path / "c.sqlite", chain_of_thought=True).label([_pair(0, "kind", "short")])
    assert records[0].per_principle == pytest.approx({"kind": 0.6, "short": 0.4})
    assert records[0].judge == "scripted:cot"
    assert all("Let's think step by step:A is kinder.\nSo the answer is: (" in t for t in judge.scored)


def test_unusable_logprobs_are_an_error_never_a_label(folder: Path, tmp_path: Path):
    class NanJudge(ScriptedJudge):
        def option_logprobs(self, prompts, options):
            return [[float("nan"), -1.0] for _ in prompts]

    with pytest.raises(RuntimeError, match="unusable log-probs"):
        _labeler(folder, NanJudge(), tmp_path / "c.sqlite").label([_pair(0, "a", "b")])
    assert JudgmentCache(tmp_path / "c.sqlite").count() == 0


def test_sampling_rule_k_asks_k_principles(tmp_path: Path):
    folder = tmp_path / "principles"
    shutil.copytree(ROOT / "principles", folder)
    judge = ScriptedJudge()
    records, summary = Labeler(load_constitution(folder), judge, JudgmentCache(tmp_path / "c.sqlite")).label(
        [_pair(i, "kind", "short") for i in range(3)]
    )
    assert all(len(r.per_principle) == 4 for r in records)
    assert summary.judgments == 3 * 4 * 2
