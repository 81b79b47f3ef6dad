"""A few GRPO steps of the embedded SmolLM2 policy on CPU, rewarded by our reward model (TRL's GRPOTrainer).

    python pipelines/rl_grpo.py --reward-model runs/demo/reward_model --steps 12

Needs TRL (`pip install -e '.[bench]'`). Prints the mean reward per step on a fixed prompt set, and the mean reward
of greedy answers to held-out prompts before and after. A toy: it shows the plumbing (reward function, batching,
normalisation from the reward model's metadata), not a useful policy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _prompts(n: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "pipelines" / "demo_prompts.jsonl").read_text().splitlines()]
    # a fixed, mixed set: every k-th demo prompt
    step = max(1, len(rows) // n)
    return [r["prompt"] for r in rows[::step][:n]]


def _greedy_reward(model, tokenizer, reward, prompts: list[str], max_tokens: int) -> float:
    import torch

    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True) for p in prompts]
    tokenizer.padding_side = "left"
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    completions = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    rewards = reward([[{"role": "user", "content": p}] for p in prompts], completions)
    return sum(rewards) / len(rewards)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reward-model", action="append", required=True, help="reward model folder (repeat: ensemble)")
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--prompts", type=int, default=8, help="training prompts")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt (GRPO group size)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--out", type=Path, default=None, help="write the per-step log here (JSON)")
    args = parser.parse_args()
    try:
        import datasets
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as exc:
        print(f"needs TRL: pip install -e '.[bench]' ({exc})", file=sys.stderr)
        return 1

    import torch

    from constitution.embedded_models import resolve_model
    from constitution.devices import bf16_supported
    from constitution.rl import RewardFunction

    reward = RewardFunction.load(args.reward_model)
    path = resolve_model(args.policy)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    train = _prompts(args.prompts)
    held_out = _prompts(2 * args.prompts)[1::2]
    before = _greedy_reward(model, tokenizer, reward, held_out, args.max_tokens)

    data = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in train])
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=tmp,
            use_cpu=True,
            # TRL turns bf16 on by default; on CPUs without AMX/AVX512-bf16 it is emulated and ~13x slower.
            bf16=bf16_supported(torch.device("cpu")),
            max_steps=args.steps,
            learning_rate=args.lr,
            per_device_train_batch_size=args.generations * 2,
            num_generations=args.generations,
            max_completion_length=args.max_tokens,
            temperature=1.0,
            logging_steps=1,
            report_to=[],
            save_strategy="no",
            seed=0,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=config, train_dataset=data, processing_class=tokenizer)
        trainer.train()
        log = [{"step": h["step"], "reward": h["reward"]} for h in trainer.state.log_history if "reward" in h]
    after = _greedy_reward(trainer.model, tokenizer, reward, held_out, args.max_tokens)
    for row in log:
        print(f"step {row['step']:>3}  mean reward {row['reward']:+.3f}")
    third = max(1, len(log) // 3)
    first, last = sum(r["reward"] for r in log[:third]) / third, sum(r["reward"] for r in log[-third:]) / third
    print(f"mean reward, first third of steps {first:+.3f} -> last third {last:+.3f}; held-out greedy {before:+.3f} -> {after:+.3f}")
    if args.out:
        args.out.write_text(json.dumps({"log": log, "first_third": first, "last_third": last, "held_out_before": before, "held_out_after": after}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
