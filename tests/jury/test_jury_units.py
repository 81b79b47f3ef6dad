"""The jury's parts without a model: combining votes, reading judges' folders, judge specs from flags and YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.errors import InputError
from constitution.labeling.jury.config import JudgeSpec, juror_names
from constitution.labeling.jury.votes import VoteTable, Votes, combine
from constitution.pipeline.config import PipelineConfig


def test_combine_is_the_weighted_mean_over_the_judges_that_voted():
    votes = Votes(3)
    votes.p_a = [0.8, None, 0.2]
    votes.principles = {"x": [0.9, None, 0.3], "y": [None, None, 0.1]}
    votes.consistent = [True, None, True]
    label = combine(votes, [1.0, 5.0, 3.0])
    assert label.p_a == pytest.approx((0.8 * 1 + 0.2 * 3) / 4)  # the judge that did not vote carries no weight
    assert label.per_principle == pytest.approx({"x": (0.9 + 0.3 * 3) / 4, "y": 0.1})
    assert label.position_consistent is True
    votes.consistent = [True, None, False]
    assert combine(votes, [1.0, 5.0, 3.0]).position_consistent is False
    votes.consistent = [None, None, None]  # single-order judges
    assert combine(votes, [1.0, 5.0, 3.0]).position_consistent is None


def _folder(tmp_path: Path, name: str, records: list[dict], skipped: list[dict]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "skipped.jsonl").write_text("".join(json.dumps(s) + "\n" for s in skipped))
    return folder


def _rec(pair_id: str, p_a: float, truncated: bool = False) -> dict:
    return {"id": pair_id, "p_a": p_a, "per_principle": {"x": p_a}, "position_consistent": True, "truncated": truncated}


def test_the_vote_table_reads_labels_failures_and_refuses_duplicate_ids(tmp_path: Path):
    table = VoteTable(2)
    first = _folder(tmp_path, "a", [_rec("0", 0.7), _rec("1", 0.4, truncated=True)], [{"where": "f:3", "reason": "bad row"}])
    second = _folder(tmp_path, "b", [_rec("0", 0.6)], [{"id": "1", "reason": "failed: timeout"}, {"id": "2", "reason": "too long"}])
    assert table.read(0, first) is None
    assert table.read(1, second) == "timeout"
    zero, one = table.pop("0"), table.pop("1")
    assert (zero.p_a, zero.count, zero.failed) == ([0.7, 0.6], 2, False)
    assert (one.p_a, one.count, one.failed, one.truncated) == ([0.4, None], 1, True, True)
    assert table.pop("2").count == 0 and table.pop("never seen").count == 0
    twice = _folder(tmp_path, "c", [_rec("0", 0.7), _rec("0", 0.2)], [])
    with pytest.raises(InputError, match=r"c/labels.jsonl:2: pair id '0' appears twice"):
        VoteTable(1).read(0, twice)


def test_judge_specs_are_written_flat_and_named_once():
    spec = JudgeSpec.model_validate({"backend": "hf", "model": "m", "dtype": "bfloat16", "weight": 2})
    assert spec.weight == 2 and spec.llm.backend == "hf" and spec.llm.dtype == "bfloat16"
    assert JudgeSpec.model_validate(spec.model_dump()) == spec and spec.model_dump()["dtype"] == "bfloat16"
    specs = [JudgeSpec.model_validate(d) for d in ({"backend": "hf"}, {"backend": "hf", "dtype": "float32"}, {"backend": "openai", "name": "big"})]
    assert juror_names(specs) == ["hf-smollm2-135m-instruct", "hf-smollm2-135m-instruct-2", "big"]
    with pytest.raises(InputError, match="two judges are named 'big'"):
        juror_names([specs[2], specs[2]])
    with pytest.raises(ValueError, match="greater than 0"):
        JudgeSpec.model_validate({"backend": "hf", "weight": 0})


def test_pipeline_config_takes_a_jury_or_a_judge():
    config = PipelineConfig(judges=[{"backend": "hf", "dtype": "float32"}, {"backend": "hf", "weight": 2}], quorum=1)
    assert [j.weight for j in config.jury()] == [1.0, 2.0]
    assert PipelineConfig().jury()[0].llm == PipelineConfig().judge
    with pytest.raises(ValueError, match="not both"):
        PipelineConfig(judge={"backend": "hf"}, judges=[{"backend": "hf"}])
    with pytest.raises(ValueError, match=r"quorum must be between 1 and the number of judges \(2\), got 3"):
        PipelineConfig(judges=[{"backend": "hf"}, {"backend": "hf", "dtype": "float32"}], quorum=3)
    with pytest.raises(ValueError, match="a quorum is for a jury"):
        PipelineConfig(quorum=1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--judge", "m,colour=red"], "--judge m,colour=red: unknown setting 'colour'"),
        (["--judge", "m,dtype"], "'dtype' is not KEY=VALUE"),
        (["--judge", "m,weight=-1"], "--judge m,weight=-1: weight: Input should be greater than 0"),
        (["--judge", "m,dtype=float8"], "--judge m,dtype=float8: judge model: --dtype: Input should be"),
        (["--judge", "m,base_url=http://h:1"], "--base-url applies to --backend openai, not vllm"),
        (["--judge", "a,backend=hf", "--judge", "b,backend=hf", "--quorum", "3"], "quorum must be between 1 and the number of judges (2), got 3"),
        (["--judge", "a,backend=hf", "--quorum", "1"], "a quorum is for a jury: give several judges (got 1)"),
    ],
)
def test_bad_judge_flags_are_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "hi", "response_a": "a", "response_b": "b"}) + "\n")
    assert main(["label", str(pairs), "--out", str(tmp_path / "o"), "--no-progress", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before anything is written
