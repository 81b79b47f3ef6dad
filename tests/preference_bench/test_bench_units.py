"""The benchmark harness without a model: RewardBench's sections and weights, scoring rules, reading rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.preference_bench.data import read_bench
from constitution.preference_bench.result import BenchTally, outcome
from constitution.preference_bench.scorers import judge_outcome
from constitution.preference_bench.sections import EXAMPLE_COUNTS, SECTIONS, section_of
from constitution.data.records import FeedbackRecord
from constitution.errors import InputError


def test_rewardbench_sections_cover_its_23_subsets_once():
    subsets = [s for members in SECTIONS.values() for s in members]
    assert len(subsets) == len(set(subsets)) == 23 and set(subsets) == set(EXAMPLE_COUNTS)
    assert section_of("xstest-should-respond") == "Safety" and section_of("hep-rust") == "Reasoning"
    assert section_of("hh-harmless") == "other"


def test_sections_weigh_subsets_as_rewardbench_does():
    tally = BenchTally()
    for score in (1.0, 1.0):
        tally.add("alpacaeval-easy", score)  # 1.0, weight 100
    tally.add("mt-bench-easy", 0.0)  # 0.0, weight 28
    for score in (1.0, 0.5, 0.0, 0.0):
        tally.add("hh-harmless", score)  # 0.375, weight: its 4 rows
    tally.add("math-prm", 0.5)  # weight 984
    tally.add("hep-go", 1.0)  # weight 164
    result = tally.result(model="m", kind="reward_model", data="d", protocol="p", seconds=0.0)
    sections = {s.section: s for s in result.sections}
    assert sections["Chat"].accuracy == pytest.approx(100 / 128) and sections["Chat"].rows == 3
    assert sections["Reasoning"].accuracy == pytest.approx((0.5 * 984 + 164) / (984 + 164))
    assert sections["other"].accuracy == pytest.approx(0.375) and sections["other"].subsets == ["hh-harmless"]
    assert [s.section for s in result.sections] == ["Chat", "Reasoning", "other"]
    assert result.score == pytest.approx((100 / 128 + (0.5 * 984 + 164) / 1148 + 0.375) / 3)
    assert result.accuracy == pytest.approx((2 + 0 + 1.5 + 0.5 + 1) / 9) and result.rows == 9
    assert {s.subset: s.ties for s in result.subsets} == {"alpacaeval-easy": 0, "mt-bench-easy": 0, "hh-harmless": 1, "math-prm": 1, "hep-go": 0}
    with pytest.raises(InputError, match="no rows scored"):
        BenchTally().result(model="m", kind="judge", data="d", protocol="p", seconds=0.0)


def _record(p_a: float, consistent: bool | None) -> FeedbackRecord:
    return FeedbackRecord(
        id="0", prompt=[], response_a="c", response_b="r", p_a=p_a, chosen=[], rejected=[], p_chosen=max(p_a, 1 - p_a),
        per_principle={}, position_consistent=consistent, judge="j", constitution_hash="h",
    )  # fmt: skip


def test_scoring_rules():
    assert [outcome(m) for m in (0.3, 0.0, -1e-9)] == [1.0, 0.5, 0.0]
    assert judge_outcome(_record(0.7, True)) == 1.0 and judge_outcome(_record(0.3, True)) == 0.0
    assert judge_outcome(_record(0.7, False)) == 0.5  # the verdict changed with the order: a tie
    assert judge_outcome(_record(0.5, True)) == 0.5


def test_rows_in_rewardbench_layout(tmp_path: Path):
    path = tmp_path / "rb.jsonl"
    rows = [
        {"id": "x1", "prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away.", "subset": "alpacaeval-easy"},
        {"prompt": [{"role": "user", "content": "Hi?"}], "chosen": [{"role": "assistant", "content": "Hey."}], "rejected": "No."},
        {"prompt": "Hi?", "chosen": "Hello.", "subset": "alpacaeval-easy"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = list(read_bench(path, limit=2))
    assert (first.pair.id, first.pair.response_a, first.pair.response_b, first.subset) == ("x1", "Hello.", "Go away.", "alpacaeval-easy")
    assert (second.pair.id, second.pair.response_a, second.subset) == ("1", "Hey.", "all")
    with pytest.raises(InputError, match=rf"{path}:3: missing column\(s\) \['rejected'\]"):
        list(read_bench(path))
