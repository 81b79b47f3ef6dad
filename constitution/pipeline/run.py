"""The label-then-train job as resumable stages: generate, label, train, evaluate, report.

Outputs in the run folder: ``pairs.jsonl`` (generated pairs), ``judgments.sqlite`` (the judgment cache, kept across
re-runs so an edited constitution is cheap), ``labels/`` (the AI-feedback dataset, ``labels.jsonl``,
``summary.json``), ``reward_model/``, ``eval/`` (JSON + plots), ``report.md`` and ``pipeline_state.json``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from constitution.cache import JudgmentCache
from constitution.data import Pair, load_pairs, split_pairs
from constitution.feedback.base import FeedbackBackend, JudgeConfig, make_backend
from constitution.generation import generate_pairs
from constitution.labeling import Labeler, format_summary, label_with_progress, write_labels
from constitution.models import resolve_model
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.stages import StageRunner, file_fingerprint, fingerprint
from constitution.principles import load_constitution

STAGES = ["generate", "label", "train", "evaluate", "report"]


class Pipeline:
    """One run of the job over a run folder."""

    def __init__(self, config: PipelineConfig, rerun_from: str | None = None, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.runner = StageRunner(self.run_dir, STAGES, rerun_from, log)
        self.constitution = load_constitution(config.constitution)
        self._backends: dict[str, FeedbackBackend] = {}

    # -- backends: the policy and the judge share one engine when they are the same model
    def _backend(self, config: JudgeConfig) -> FeedbackBackend:
        key = fingerprint(config.model_copy(update={"model": resolve_model(config.model)}))
        if key not in self._backends:
            self._backends[key] = make_backend(config)
        return self._backends[key]

    def _policy_config(self) -> JudgeConfig:
        g = self.config.generation
        base = self.config.judge if self.config.judge.backend == g.backend else JudgeConfig(backend=g.backend)
        return base.model_copy(update={"model": g.policy, "dtype": g.dtype})

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()

    # -- paths
    @property
    def pairs_path(self) -> Path:
        return self.run_dir / "pairs.jsonl"

    @property
    def labels_dir(self) -> Path:
        return self.run_dir / "labels"

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "reward_model"

    @property
    def eval_dir(self) -> Path:
        return self.run_dir / "eval"

    def run(self) -> dict[str, Any]:
        """Run every stage that is not up to date; returns the report's headline figures."""
        c = self.config
        try:
            if c.pairs:
                source, gen_fp = c.pairs, fingerprint(file_fingerprint(c.pairs), c.pairs)
            else:
                if not c.prompts:
                    from constitution.errors import InputError

                    raise InputError("the config needs `prompts` (to generate pairs) or `pairs`")
                gen_fp = fingerprint(file_fingerprint(c.prompts), c.generation)
                self.runner.run("generate", gen_fp, [self.pairs_path], self._generate)
                source = str(self.pairs_path)
            judge_fp = c.judge.model_dump(exclude={"base_urls", "api_key", "max_concurrency", "timeout_s", "max_retries", "backoff_s", "endpoint_cooldown_s", "batch_size"})
            label_fp = fingerprint(gen_fp, c.pairs_limit, self.constitution.hash, judge_fp, c.labeling)
            self.runner.run("label", label_fp, [self.labels_dir / "labels.jsonl"], lambda: self._label(source))
            self.close()  # free the judge's memory before training
            train_fp = fingerprint(label_fp, c.training, c.test_fraction, c.seed)
            self.runner.run("train", train_fp, [self.model_dir / "config.json"], self._train)
            eval_fp = fingerprint(train_fp, c.human_eval and file_fingerprint(c.human_eval), c.human_eval_limit)
            self.runner.run("evaluate", eval_fp, [self.eval_dir / "eval.json"], self._evaluate)
            from constitution.pipeline.report import write_report

            record = self.runner.run("report", fingerprint(eval_fp, *(r.seconds for r in self.runner.state.values())), [self.run_dir / "report.md"], lambda: write_report(self))
            return record.info
        finally:
            self.close()

    # -- stages
    def _generate(self) -> dict[str, Any]:
        report = generate_pairs(self.config.generation, self.config.prompts, self.pairs_path, backend=self._backend(self._policy_config()))
        return report.model_dump()

    def _label(self, source: str) -> dict[str, Any]:
        pairs, load_report = load_pairs(source, limit=self.config.pairs_limit)
        with JudgmentCache(self.run_dir / "judgments.sqlite") as cache:
            labeler = Labeler(self.constitution, self._backend(self.config.judge), cache, self.config.labeling)
            records, summary = label_with_progress(labeler, pairs, desc="label")
        tmp = self.labels_dir.with_name("labels.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write_labels(tmp, records, summary)
        shutil.rmtree(self.labels_dir, ignore_errors=True)
        tmp.rename(self.labels_dir)  # the labels folder appears whole or not at all
        self.log(format_summary(summary))
        return {"pairs": len(records), "dropped_mismatched": load_report.dropped_mismatched, **summary.model_dump(exclude={"per_principle"})}

    def _split(self) -> tuple[list[Pair], list[Pair]]:
        pairs, _ = load_pairs(self.labels_dir)
        n_test = round(self.config.test_fraction * len(pairs))
        return split_pairs(pairs, len(pairs) - n_test, seed=self.config.seed)

    def _train(self) -> dict[str, Any]:
        from constitution.reward.trainer import train_reward_model

        train, test = self._split()  # an interrupted run's checkpoints in model_dir are resumed from
        result = train_reward_model(
            self.config.training, train, self.model_dir, train_data=str(self.labels_dir), constitution_hash=[self.constitution.hash]
        )
        return {**result.model_dump(), "test_pairs": len(test)}

    def _evaluate(self) -> dict[str, Any]:
        from constitution.reward.evaluate import evaluate_pairs, reliability_plot
        from constitution.reward.model import RewardModel

        self.eval_dir.mkdir(parents=True, exist_ok=True)
        model = RewardModel.load(self.model_dir)
        _, test = self._split()
        out: dict[str, Any] = {}
        sets = {"ai_test": test}
        if self.config.human_eval and Path(self.config.human_eval).exists():
            human, _ = load_pairs(self.config.human_eval)
            sets["human"] = split_pairs(human, min(self.config.human_eval_limit, len(human)), seed=self.config.seed)[0]
        for name, pairs in sets.items():
            if not pairs:
                continue
            report = evaluate_pairs(model, pairs)
            reliability_plot(report, self.eval_dir / f"reliability_{name}.png")
            r_a, r_b = model.score_pairs(pairs, normalize=True)
            chosen = [a if p.p_a >= 0.5 else b for a, b, p in zip(r_a, r_b, pairs)]
            rejected = [b if p.p_a >= 0.5 else a for a, b, p in zip(r_a, r_b, pairs)]
            out[name] = {"report": report.model_dump(), "chosen_rewards": chosen, "rejected_rewards": rejected}
        (self.eval_dir / "eval.json").write_text(json.dumps(out, indent=2))
        return {name: {k: v for k, v in d["report"].items() if k in ("n", "accuracy", "ece")} for name, d in out.items()}


def label_disagreement(records: list[dict[str, Any]]) -> float | None:
    """Mean share of principle pairs (within one labeled pair) that prefer different responses."""
    shares = []
    for r in records:
        votes = [p > 0.5 for p in r["per_principle"].values()]
        n = len(votes)
        if n < 2:
            continue
        yes = sum(votes)
        shares.append(yes * (n - yes) / (n * (n - 1) / 2))
    return float(np.mean(shares)) if shares else None
