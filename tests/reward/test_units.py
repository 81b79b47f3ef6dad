"""Loss, inputs, collator, metrics and ensemble combination on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch


def _nll(d: float, p: float, m: float = 0.0) -> float:
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    return -(p * math.log(sig(d - m)) + (1 - p) * math.log(sig(-d - m)))


def test_bradley_terry_soft_hard_margin_center():
    from constitution.reward.loss import bradley_terry_loss

    r_a, r_b = torch.tensor([1.0, -0.5, 2.0]), torch.tensor([0.0, 0.5, 2.0])
    p = torch.tensor([0.8, 1.0, 0.3])
    expected = np.mean([_nll(1.0, 0.8), _nll(-1.0, 1.0), _nll(0.0, 0.3)])
    assert bradley_terry_loss(r_a, r_b, p).item() == pytest.approx(expected, rel=1e-5)
    # swapping A and B with p -> 1 - p changes nothing
    assert bradley_terry_loss(r_b, r_a, 1 - p).item() == pytest.approx(expected, rel=1e-5)
    with_margin = np.mean([_nll(1.0, 0.8, 0.5), _nll(-1.0, 1.0, 0.5), _nll(0.0, 0.3, 0.5)])
    assert bradley_terry_loss(r_a, r_b, p, margin=0.5).item() == pytest.approx(with_margin, rel=1e-5)
    centered = expected + 0.1 * np.mean([1.0, 0.0, 16.0])
    assert bradley_terry_loss(r_a, r_b, p, center=0.1).item() == pytest.approx(centered, rel=1e-5)
    # fp32 even for bf16 rewards; gradient pushes r_a up when A is preferred
    ra = torch.tensor([0.0], dtype=torch.bfloat16, requires_grad=True)
    loss = bradley_terry_loss(ra, torch.tensor([0.0], dtype=torch.bfloat16), torch.tensor([1.0]))
    assert loss.dtype == torch.float32
    loss.backward()
    assert ra.grad.item() < 0


def test_left_truncation_keeps_the_end_and_special_tokens(minilm_path):
    from transformers import AutoTokenizer

    from constitution.reward.inputs import build_text, encode, prepare_tokenizer

    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(minilm_path), 16)
    text = build_text(tok, "hh", "word " * 100, "the final answer is banana")
    ids = encode(tok, "hh", [text], 16)[0]
    assert len(ids) == 16
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert "banana" in tok.decode(ids)


def test_collator_puts_a_then_b_right_padded():
    from constitution.reward.pair_dataset import PairCollator

    batch = PairCollator(pad_token_id=0)(
        [{"input_ids_a": [5, 6, 7], "input_ids_b": [8], "p": 1.0}, {"input_ids_a": [9], "input_ids_b": [3, 4], "p": 0.25}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [9, 0, 0], [8, 0, 0], [3, 4, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert batch["p"].tolist() == [1.0, 0.25]


def test_length_sorted_batches_cover_every_index_once():
    from constitution.batching import length_sorted_batches

    batches = length_sorted_batches([3, 9, 1, 7, 5], 2)
    assert batches == [[1, 3], [4, 0], [2]]
    # token budget 10: [9] alone, then 7 alone, then 5+3 (2*5 <= 10), then 1; rows capped at 3
    assert length_sorted_batches([3, 9, 1, 7, 5], 2, max_tokens=10, max_rows=3) == [[1], [3], [4, 0], [2]]
    assert length_sorted_batches([1] * 7, 2, max_tokens=100, max_rows=3) == [[0, 1, 2], [3, 4, 5], [6]]
    # min_fill 0.5: 4 is under half of 10, so it starts a new batch (3 fills half of 4)
    assert length_sorted_batches([10, 4, 6, 3], 4, max_tokens=100, min_fill=0.5) == [[0, 2], [1, 3]]


def test_a_batch_of_mixed_lengths_does_not_pad_short_rows_to_the_longest(reward_folder):
    """A server batch holds whatever requests arrived together (issue 21): one long text must not make the short
    ones pay for its length. Every forward pass is at least half real tokens, and the rewards do not change. This is
    the fp32 path; under bf16 every pass has one shape per length (test_batch_invariance.py)."""
    from constitution.reward.model import RewardModel

    model = RewardModel.load(reward_folder, bf16=False)
    masks: list[torch.Tensor] = []
    hook = model.model.register_forward_pre_hook(lambda _m, _a, kw: masks.append(kw["attention_mask"]), with_kwargs=True)
    texts = ["word " * 200, "hi", "hello there", "a short one", "word " * 150]
    try:
        rewards = model.score(texts)
    finally:
        hook.remove()
    assert sum(len(m) for m in masks) == len(texts)
    assert all(m.sum(1).min() >= 0.5 * m.shape[1] for m in masks), [tuple(m.sum(1).tolist()) for m in masks]
    assert rewards == pytest.approx([model.score([t])[0] for t in texts], abs=1e-6, rel=0)


def test_metrics_accuracy_ece_and_length_split():
    from constitution.reward.evaluate import calibration, report_from_scores

    r_a = np.array([2.0, 0.0, 1.0, -3.0, 0.5])
    r_b = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    p_a = np.array([1.0, 1.0, 0.0, 0.0, 0.5])  # last: a tie, not counted
    report = report_from_scores(r_a, r_b, p_a, np.array([10, 5, 5, 1, 1]), np.array([5, 10, 10, 2, 2]), ["x"] * 5)
    assert report.accuracy == pytest.approx(0.5)  # right: 0 and 3; wrong: 1 and 2
    # chosen longer: pairs 0 (right), 2 (wrong), 3 (right); chosen shorter: pair 1 (wrong)
    assert report.accuracy_chosen_longer.n == 3 and report.accuracy_chosen_longer.accuracy == pytest.approx(2 / 3)
    assert report.accuracy_chosen_shorter.n == 1 and report.accuracy_chosen_shorter.accuracy == 0.0
    assert report.per_source["x"].n == 4
    # within pairs (the tie excluded): the longer response gets the higher reward in pairs 0, 1, 3; the label
    # prefers it in pairs 0, 2, 3
    assert (report.length_bias_pairs, report.prefers_longer, report.label_prefers_longer) == (4, 0.75, 0.75)
    assert report.length_diff_corr == pytest.approx(np.corrcoef([2.0, -1.0, 1.0, -3.0], [5, -5, -5, -1])[0, 1])
    ece, bins = calibration(r_a, r_b, p_a)
    conf = 1 / (1 + np.exp(-np.array([2.0, 1.0, 1.0, 3.0])))
    correct = np.array([1, 0, 0, 1])
    manual = sum(abs(conf[s].mean() - correct[s].mean()) * s.sum() / 4 for s in [np.array([0, 1, 1, 0], bool), np.array([1, 0, 0, 0], bool), np.array([0, 0, 0, 1], bool)])
    assert ece == pytest.approx(manual)
    assert sum(b.n for b in bins) == 4


def _two_prompt_groups(n: int, seed: int):
    """Pairs for short prompts (~20-character answers) and long ones (~1,000): (len_a, len_b, group 0/1)."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    typical = np.where(group == 1, 1000, 20)
    len_a = typical + rng.integers(-15, 16, size=n)
    len_b = typical + rng.integers(-15, 16, size=n)
    return len_a, len_b, group


def _pooled_corr(r_a, r_b, len_a, len_b) -> float:
    return float(np.corrcoef(np.concatenate([r_a, r_b]), np.concatenate([len_a, len_b]))[0, 1])


def test_length_bias_is_measured_within_pairs_not_pooled():
    from constitution.reward.evaluate import report_from_scores

    n = 2000
    len_a, len_b, group = _two_prompt_groups(n, seed=0)
    rng = np.random.default_rng(1)
    # Long prompts get higher rewards, but within a pair the reward ignores length: pooled correlation is strong.
    r_a, r_b = 5.0 * group + rng.normal(0, 0.3, n), 5.0 * group + rng.normal(0, 0.3, n)
    p_a = (rng.random(n) < 0.5).astype(float)
    report = report_from_scores(r_a, r_b, p_a, len_a, len_b, [""] * n)
    assert _pooled_corr(r_a, r_b, len_a, len_b) > 0.9
    assert abs(report.length_diff_corr) < 0.1 and abs(report.prefers_longer - 0.5) < 0.05

    # And the reverse: within a pair the longer response always wins, while long prompts get lower rewards.
    r_a, r_b = -20.0 * group + 0.01 * len_a, -20.0 * group + 0.01 * len_b
    longer_a = len_a > len_b
    label_longer = np.arange(n) < 0.3 * n  # the labels prefer the longer response in the first 30% of pairs
    p_a = np.where(longer_a == label_longer, 1.0, 0.0)
    report = report_from_scores(r_a, r_b, p_a, len_a, len_b, [""] * n)
    assert _pooled_corr(r_a, r_b, len_a, len_b) < -0.9
    assert report.length_diff_corr == pytest.approx(1.0) and report.prefers_longer == 1.0
    unequal = len_a != len_b
    assert report.length_bias_pairs == unequal.sum()
    assert report.label_prefers_longer == pytest.approx(label_longer[unequal].mean())


def test_ensemble_combine():
    from constitution.reward.ensemble import combine

    s = combine([[1.0, 0.0], [3.0, 0.0]], k=2.0)
    assert s.mean == [2.0, 0.0] and s.std == [1.0, 0.0] and s.conservative == [0.0, 0.0]


def test_fixed_shape_batches_give_one_width_per_length_bucket():
    from constitution.batching import bucket_width, fixed_shape_batches

    assert [bucket_width(n) for n in (1, 16, 17, 20, 21, 33, 40, 41, 100, 512, 513)] == [1, 16, 20, 20, 24, 40, 40, 48, 112, 512, 640]
    assert all(n / bucket_width(n) > 0.8 for n in range(1, 5000))
    lengths = [3, 17, 18, 19, 20, 3, 3, 3, 3, 100]
    batches = fixed_shape_batches(lengths, 4)
    assert sorted(i for b, _ in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 4 and {bucket_width(lengths[i]) for i in b} == {w} for b, w in batches)
