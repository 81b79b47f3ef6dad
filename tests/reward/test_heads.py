"""Per-principle heads, for real (MiniLM, synthetic labels of known structure): each head learns its own principle,
the reward follows weight edits in the constitution with no training (a scalar model cannot), a constitution naming
a principle without a head is a clear error, and the library pieces (masked loss, weights, statistics) are exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from constitution.errors import InputError
from tests.reward.principle_data import PRINCIPLES, TRAIN_WEIGHTS, principle_rows, write_constitution


def _items(rows: list[dict]) -> list:
    return [(r["prompt"], r["response_a"]) for r in rows] + [(r["prompt"], r["response_b"]) for r in rows]


def _agreement(gap: np.ndarray, labels: np.ndarray) -> float:
    """Share of decided labels (not 0.5) whose preferred response gets the higher score."""
    decided = labels != 0.5
    return float(((gap[decided] > 0) == (labels[decided] > 0.5)).mean())


def test_each_head_learns_its_own_principle(headed, test_rows):
    from constitution.reward.model import RewardModel

    folder, result = headed
    model = RewardModel.load(folder, bf16=False)
    assert model.heads == list(PRINCIPLES)
    matrix = np.asarray(model.score_heads(_items(test_rows), batch_size=32))
    assert matrix.shape == (2 * len(test_rows), 3)
    gap = matrix[: len(test_rows)] - matrix[len(test_rows) :]
    for k, principle in enumerate(PRINCIPLES):
        labels = np.asarray([r["per_principle"][principle] for r in test_rows])
        assert _agreement(gap[:, k], labels) >= 0.9, principle
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "polite", "1": "cites", "2": "concise"}
    meta = model.metadata
    assert meta.pooling == "mean" and meta.temperature == 1.0
    # masked: two of the three principles judged each training pair, so each head trained on a subset
    assert all(0 < meta.head_info[h].train_pairs < result.train_pairs for h in PRINCIPLES)
    assert {h: meta.head_info[h].weight for h in PRINCIPLES} == TRAIN_WEIGHTS
    assert {"accuracy", "judgment_accuracy"} <= set(result.eval_metrics)


def test_weight_edit_is_followed_by_the_heads_and_not_by_a_scalar_model(headed, scalar, heads_root):
    """Pairs where `concise` disagrees with both other principles: trained at 1:1:3, the reward prefers the concise
    response, as does a scalar model trained on the same labels. With `concise` at weight 0 in the YAML the
    per-principle model prefers the other response, with no training; the scalar model cannot follow."""
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    concise_side = {"polite": False, "cites": False, "concise": True}
    other_side = {"polite": True, "cites": True, "concise": False}
    rows = principle_rows(40, 5, TRAIN_WEIGHTS, features=(concise_side, other_side))
    rows += principle_rows(40, 6, TRAIN_WEIGHTS, features=(other_side, concise_side))
    concise_is_a = np.asarray([1.0] * 40 + [0.0] * 40)
    items = _items(rows)
    files = {p: p.stat().st_mtime_ns for p in headed[0].iterdir()}

    def agrees(model: RewardModel, target: np.ndarray) -> float:
        r = np.asarray(model.score(items))
        return float(((r[: len(rows)] > r[len(rows) :]) == target).mean())

    trained_weights = RewardModel.load(headed[0], bf16=False)
    edited = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(heads_root / "concise_off"))
    scalar_model = RewardModel.load(scalar[0], bf16=False)
    assert edited.weights.tolist() == [0.5, 0.5, 0.0]  # 1:1:0, divided by the sum
    assert agrees(trained_weights, concise_is_a) >= 0.9 and agrees(scalar_model, concise_is_a) >= 0.9
    assert agrees(edited, 1 - concise_is_a) >= 0.9
    assert agrees(scalar_model, 1 - concise_is_a) <= 0.1
    assert {p: p.stat().st_mtime_ns for p in headed[0].iterdir()} == files  # nothing was retrained or rewritten


def test_a_principle_without_a_head_is_an_error_naming_it(headed, heads_root, tmp_path):
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    unknown = load_constitution(write_constitution(tmp_path / "c", {**TRAIN_WEIGHTS, "harmless": 1.0}))
    with pytest.raises(InputError, match=r"no head for principle 'harmless'.*--add-principle harmless") as exc:
        RewardModel.load(headed[0], constitution=unknown)
    assert "style.yaml:" in str(exc.value)  # file:line of the principle
    # at weight 0 it takes no part in the reward, so it needs no head
    RewardModel.load(headed[0], constitution=load_constitution(write_constitution(tmp_path / "z", {**TRAIN_WEIGHTS, "harmless": 0.0})))


def test_a_principle_removed_from_the_constitution_drops_out_of_the_reward(headed, heads_root):
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    model = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(heads_root / "no_cites"))
    assert model.weights.tolist() == [0.25, 0.0, 0.75]
    items = _items(principle_rows(4, 3, TRAIN_WEIGHTS))
    heads = np.asarray(model.score_heads(items))
    assert model.score(items) == pytest.approx(((heads[:, 0] + 3.0 * heads[:, 2]) / 4).tolist(), abs=1e-9)
    rewards, shares = model.explain(items)
    assert all(set(s) == {"polite", "concise"} for s in shares)
    assert [sum(s.values()) for s in shares] == pytest.approx(rewards, abs=1e-9)


def test_the_reward_is_the_weighted_mean_of_the_heads_and_ignores_the_weights_scale(headed, tmp_path):
    """The contract `constitution diff` relies on: reward = score_heads · the constitution's weights / their sum."""
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    items = _items(principle_rows(4, 12, TRAIN_WEIGHTS))
    once = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(write_constitution(tmp_path / "x1", TRAIN_WEIGHTS)))
    twice = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(write_constitution(tmp_path / "x2", {k: 2 * v for k, v in TRAIN_WEIGHTS.items()})))
    heads = np.asarray(once.score_heads(items))
    assert once.score(items) == pytest.approx((heads @ np.asarray([1.0, 1.0, 3.0]) / 5).tolist(), abs=1e-9)
    assert twice.score(items) == pytest.approx(once.score(items), abs=1e-9)
    assert twice.score(items, normalize=True) == pytest.approx(once.score(items, normalize=True), abs=1e-9)


def test_a_scalar_model_refuses_a_constitution(scalar, heads_root):
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    with pytest.raises(InputError, match="scalar reward model"):
        RewardModel.load(scalar[0], constitution=load_constitution(heads_root / "train_c"))


def test_masked_loss_trains_only_the_heads_that_judged():
    from constitution.reward.loss import bradley_terry_loss

    r_a = torch.tensor([[2.0, 0.5], [0.0, 1.0]], requires_grad=True)
    r_b = torch.zeros(2, 2)
    p = torch.tensor([[0.9, 0.5], [0.2, 0.7]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss = bradley_terry_loss(r_a, r_b, p, mask=mask)
    judged = bradley_terry_loss(r_a[mask > 0], r_b[mask > 0], p[mask > 0])
    assert loss.item() == pytest.approx(judged.item())
    loss.backward()
    assert r_a.grad[0, 1] == 0 and (r_a.grad[mask > 0] != 0).all()


def test_tokenized_labels_mark_the_judging_principles(minilm_path):
    from transformers import AutoTokenizer

    from constitution.reward.principle_pairs import PrinciplePair
    from constitution.reward.pair_dataset import tokenize_pairs

    tok = AutoTokenizer.from_pretrained(minilm_path)
    pair = PrinciplePair(id="x", prompt=[{"role": "user", "content": "hi"}], response_a="a", response_b="b", p_a=0.8,
                         per_principle={"cites": 0.8, "polite": 0.6})  # fmt: skip
    row = tokenize_pairs(tok, "hh", [pair], 32, heads=["polite", "cites", "concise"])[0]
    assert row["p"] == pytest.approx([0.6, 0.8, 0.5]) and row["mask"] == [1.0, 1.0, 0.0] and row["p_a"] == pytest.approx(0.8)


def test_reward_statistics_follow_any_weights_exactly():
    from constitution.reward.heads import head_stats, reward_stats
    from constitution.reward.metadata import RewardMetadata

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3)) + rng.normal(size=3)
    meta = RewardMetadata(base_model="x", heads=["a", "b", "c"])
    meta.head_mean, meta.head_cov = head_stats(matrix)
    for weights in ([0.6, 0.2, 0.2], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]):
        w = np.asarray(weights)
        mean, std = reward_stats(meta, w)
        assert (mean, std) == pytest.approx((float((matrix @ w).mean()), float((matrix @ w).std())), rel=1e-10)


def test_heads_without_recorded_weights_or_statistics_weigh_1_and_use_the_stored_mean_and_std():
    """A headed folder assembled by hand (metadata naming the heads, nothing else about them)."""
    from constitution.reward.heads import head_weights, reward_stats
    from constitution.reward.metadata import RewardMetadata

    meta = RewardMetadata(base_model="x", heads=["a", "b"], reward_mean=0.01, reward_std=0.05)
    weights = head_weights(meta)
    assert weights.tolist() == [0.5, 0.5] and reward_stats(meta, weights) == (0.01, 0.05)


def test_normalised_contributions_sum_to_the_normalised_reward(headed, heads_root):
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    model = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(heads_root / "concise_off"))
    items = _items(principle_rows(5, 8, TRAIN_WEIGHTS))
    rewards, shares = model.explain(items, normalize=True)
    assert rewards == pytest.approx(model.score(items, normalize=True), abs=1e-9)
    assert [sum(s.values()) for s in shares] == pytest.approx(rewards, abs=1e-9)
    assert all(set(s) == {"polite", "cites"} for s in shares)


def test_per_head_temperatures_divide_each_row():
    from constitution.reward.temperature import apply_temperature, scalar_head

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x = torch.randn(5, 4)
    before = model(x).detach()
    apply_temperature(model, [1.0, 2.0, 4.0])
    assert scalar_head(model, 3) is model[2]
    assert torch.allclose(model(x), before / torch.tensor([1.0, 2.0, 4.0]), atol=1e-6)


def test_rl_reward_function_takes_the_constitution(headed, heads_root):
    from constitution.reward.model import RewardModel
    from constitution.rl import RewardFunction

    from constitution.loader import load_constitution

    fn = RewardFunction.load(headed[0], constitution=load_constitution(heads_root / "concise_off"))
    prompts, completions = ["How do I boil an egg?"] * 2, ["Thank you for asking! Boil it for eight minutes.", "Obviously, cook it in water."]
    expected = fn.scorer.score(list(zip(prompts, completions)), normalize=True)
    assert fn(prompts, completions) == pytest.approx(expected)
    default = RewardFunction.load(headed[0])(prompts, completions)
    assert default != pytest.approx(expected)  # the training weights give other rewards
    with pytest.raises(InputError, match="no head for principle 'harmless'"):
        RewardFunction.load(headed[0], constitution=load_constitution(write_constitution(heads_root / "unknown", {"harmless": 1.0})))
    assert isinstance(fn.scorer, RewardModel)


def test_training_needs_labels_for_every_weighted_principle(minilm_path, heads_root, tmp_path):
    from constitution.data import load_pairs
    from constitution.loader import load_constitution
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.principle_pairs import load_principle_pairs
    from constitution.reward.trainer import train_reward_model

    unknown = load_constitution(write_constitution(tmp_path / "c", {**TRAIN_WEIGHTS, "harmless": 1.0}))
    config = RewardTrainingConfig(heads="per_principle")
    with pytest.raises(InputError, match="principle 'harmless' judged none of the training pairs"):
        train_reward_model(config, load_principle_pairs(heads_root / "train.jsonl"), tmp_path / "rm", constitution=unknown)
    with pytest.raises(InputError, match="need the constitution"):
        train_reward_model(config, load_principle_pairs(heads_root / "train.jsonl"), tmp_path / "rm")
    plain, _ = load_pairs(heads_root / "train.jsonl")
    with pytest.raises(InputError, match="need pairs with per-principle labels"):
        train_reward_model(config, plain, tmp_path / "rm", constitution=load_constitution(heads_root / "train_c"))
    with pytest.raises(InputError, match="need pairs with per-principle labels"):
        train_reward_model(config, load_principle_pairs(heads_root / "train.jsonl"), tmp_path / "rm", eval_pairs=plain[:4],
                           constitution=load_constitution(heads_root / "train_c"))  # fmt: skip
    assert not (tmp_path / "rm").exists()


def test_a_nan_in_a_head_of_weight_0_does_not_reach_the_reward():
    from constitution.reward.heads import combine

    matrix = np.array([[1.0, np.nan, 3.0], [2.0, np.inf, -1.0]])
    assert combine(matrix, np.array([0.5, 0.0, 0.5])).tolist() == [2.0, 0.5]
    assert np.isnan(combine(matrix, np.array([0.5, 0.5, 0.0]))[0])  # a head that counts still shows its NaN
