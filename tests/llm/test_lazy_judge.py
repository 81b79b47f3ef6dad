"""A judge engine starts on its first request (issue 33 item 5): a run whose judgments are all cached plans every
pair from the cache and never starts vLLM; its name, cache identity, tokenizer and context length are known before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.labeling import JudgmentCache
from constitution.labeling.run import label_dataset
from constitution.labeling.jury.config import JudgeSpec
from constitution.llm.config import VllmConfig
from constitution.llm.factory import make_llm
from constitution.llm.lazy import LazyBackend
from constitution.llm.vllm_backend import VllmBackend
from constitution.loader import load_constitution
from constitution.resources import default_principles
from tests.helpers.scripted_judge import ScriptedJudge

PAIRS = [("How do I boil an egg?", "Boil it for eight minutes.", "Eggs are hard."), ("Name a color.", "Blue.", "No.")]


def _no_engine(*args, **kwargs):
    raise AssertionError("the vLLM engine was started")  # a fault injected: the test fails if the engine starts


def test_the_default_judge_is_previewed_without_starting_vllm(judge_model_path: str, monkeypatch):
    monkeypatch.setattr(VllmBackend, "__init__", _no_engine)
    judge = make_llm(VllmConfig())
    assert isinstance(judge, LazyBackend) and not judge.started
    assert judge.name == "vllm:smollm2-135m-instruct" and judge.identity.startswith("vllm:sha256:")
    assert judge.tokenizer is not None and judge.max_model_len == 4096
    assert list(judge.score_options([])) == [] and judge.generate([], max_tokens=4) == []
    judge.close()
    assert not judge.started


def test_label_with_every_judgment_cached_starts_no_judge(tmp_path: Path, judge_model_path: str, monkeypatch, capsys):
    """Was a 20 s vLLM start to compute 0 judgments."""
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in PAIRS))
    out = tmp_path / "labels"
    preview = VllmBackend.preview(VllmConfig())
    started: list[ScriptedJudge] = []

    def stand_in() -> ScriptedJudge:  # answers for the default judge's identity, to fill its cache without vLLM
        judge = ScriptedJudge()
        judge.identity = preview.identity
        started.append(judge)
        return judge

    constitution = load_constitution(default_principles())
    with JudgmentCache(out / "judgments.sqlite") as cache:
        first = label_dataset(str(pairs), out, constitution, [JudgeSpec(llm=VllmConfig())], cache, llm=LazyBackend(stand_in, preview), show_progress=False)
    assert len(started) == 1 and first.judgments_computed == first.judgments == len(PAIRS) * 4 * 2

    monkeypatch.setattr(VllmBackend, "__init__", _no_engine)
    assert main(["label", str(pairs), "--out", str(out), "--constitution", str(default_principles()), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"judgments {first.judgments} (computed 0, cached {first.judgments})" in printed
    assert f"wrote {len(PAIRS)} labels" in printed


def test_an_engine_that_loads_another_model_than_planned_is_refused(judge_model_path: str):
    preview = VllmBackend.preview(VllmConfig())
    judge = LazyBackend(ScriptedJudge, preview)  # identity "scripted": not the one the cache keys were planned with
    with pytest.raises(Exception, match="not the vllm:sha256:"):
        judge.engine()
