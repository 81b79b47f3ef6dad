"""Mean pooling, decoder backbones (chat template, last-token pooling, padding), LoRA and 2-process training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.reward.reward_helpers import synthetic_rows, tiny_llama, write_jsonl


def _auto_scores(folder, texts):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt", add_special_tokens=False)
        return model(**enc).logits[:, 0].tolist()


def test_mean_pooling_layer_is_mean_pooling(minilm_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.reward.pooling import add_mean_pooling_layer

    model = AutoModelForSequenceClassification.from_pretrained(minilm_path, num_labels=1).eval()
    tok = AutoTokenizer.from_pretrained(minilm_path)
    enc = tok(["a short one", "a much longer sentence with many more words in it"], padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model.base_model(**enc).last_hidden_state
        add_mean_pooling_layer(model)
        after = model.base_model(**enc).last_hidden_state
    assert model.config.num_hidden_layers == 7
    mask = enc["attention_mask"].unsqueeze(-1).float()
    mean = (before * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.layer_norm(mean, (mean.shape[-1],))
    cos = torch.nn.functional.cosine_similarity(after[:, 0], expected, dim=-1)
    assert cos.min().item() > 0.999, cos


def test_mean_pooling_model_saves_as_standard_folder(minilm_path, tmp_path):
    from constitution.data import load_pairs
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    pairs = load_pairs(write_jsonl(synthetic_rows(8), tmp_path / "p.jsonl"))[0]
    config = RewardTrainingConfig(max_length=48, epochs=1, batch_size=4, pooling="mean", eval_fraction=0)
    train_reward_model(config, pairs, tmp_path / "rm")
    assert json.loads((tmp_path / "rm" / "config.json").read_text())["num_hidden_layers"] == 7
    rm = RewardModel.load(tmp_path / "rm", bf16=False)
    texts = rm.texts([(p.prompt, p.response_a) for p in pairs[:4]])
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm").eval()
    enc = AutoTokenizer.from_pretrained(tmp_path / "rm")(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**enc).logits[:, 0].tolist() == pytest.approx(rm.score(texts), abs=1e-4)


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    from constitution.embedded_models import ModelNotFoundError

    try:
        return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


def test_decoder_chat_template_last_token_and_padding(llama_folder, tmp_path):
    from constitution.data import load_pairs
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    pairs = load_pairs(write_jsonl(synthetic_rows(8), tmp_path / "p.jsonl"))[0]
    config = RewardTrainingConfig(base_model=str(llama_folder), max_length=64, epochs=1, batch_size=4, eval_fraction=0)
    train_reward_model(config, pairs, tmp_path / "rm")
    rm = RewardModel.load(tmp_path / "rm", bf16=False)
    assert rm.metadata.input_format == "chat_template" and rm.metadata.chat_template
    assert rm.metadata.pooling == "native"  # auto: decoders pool their last non-pad token
    assert rm.tokenizer.padding_side == "right" and rm.model.config.pad_token_id is not None
    items = [(p.prompt, p.response_a) for p in pairs] + [("hi", "ok")]
    texts = rm.texts(items)
    assert texts[0].startswith("<|im_start|>") and "<|im_start|>assistant" in texts[0]
    batched = rm.score(items, batch_size=9)
    assert batched == pytest.approx([rm.score([it])[0] for it in items], abs=1e-4)  # padding does not move scores
    assert _auto_scores(tmp_path / "rm", texts) == pytest.approx(batched, abs=1e-4)


def test_lora_is_merged_into_a_plain_folder(minilm_path, tmp_path):
    from safetensors.torch import load_file

    from constitution.data import load_pairs
    from constitution.reward.config import LoraSettings, RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    pairs = load_pairs(write_jsonl(synthetic_rows(8), tmp_path / "p.jsonl"))[0]
    config = RewardTrainingConfig(
        max_length=48, epochs=1, batch_size=4, eval_fraction=0, learning_rate=1e-3, lora=LoraSettings(r=4, alpha=8)
    )
    train_reward_model(config, pairs, tmp_path / "rm")
    assert not (tmp_path / "rm" / "adapter_config.json").exists()
    weights = load_file(tmp_path / "rm" / "model.safetensors")
    assert not any("lora" in k for k in weights)
    base = load_file(os.path.join(minilm_path, "model.safetensors"))
    key = next(k for k in weights if k.endswith("layer.0.attention.self.query.weight"))
    assert not torch.allclose(weights[key], base[key.removeprefix("bert.")])  # the adapter was merged
    rm = RewardModel.load(tmp_path / "rm", bf16=False)
    texts = rm.texts([(p.prompt, p.response_b) for p in pairs[:3]])
    assert _auto_scores(tmp_path / "rm", texts) != pytest.approx([0, 0, 0])


def test_accelerate_two_cpu_processes(minilm_path, tmp_path):
    """`accelerate launch` runs the unchanged CLI with 2 processes (torch.distributed over gloo on CPU)."""
    data = write_jsonl(synthetic_rows(16), tmp_path / "p.jsonl")
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    cmd = [
        accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "-m", "constitution", "train", str(data), "--out", str(tmp_path / "rm"),
        "--max-length", "32", "--epochs", "1", "--batch-size", "2", "--eval-fraction", "0.25",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{\"")]
    assert len(lines) == 1 and lines[0]["world_size"] == 2
    assert (tmp_path / "rm" / "constitution_reward.json").exists()
