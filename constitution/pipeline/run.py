"""The label-then-train job as resumable stages: generate, label, train, evaluate, audit, report.

Outputs in the run folder: ``pairs.jsonl`` (generated pairs), ``judgments.sqlite`` (the judgment cache, kept across
re-runs so an edited constitution is cheap), ``labels/`` (the AI-feedback dataset, ``labels.jsonl``,
``summary.json``, ``truncated.jsonl``, ``skipped.jsonl``, and ``constitution.json``, the constitution that labelled
them), ``previous/`` (the labels and constitution before the constitution last changed), ``reward_model/``,
``eval/`` (JSON + plots), ``audit/`` (the reward audit: ``audit.json``, ``audit.md``), ``report.md`` and
``pipeline_state.json``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from constitution.atomic import atomic_write_text, recover_dir, replace_dir
from constitution.audit import AuditItem
from constitution.data.pairs import load_pairs, scan_pairs, split_pairs
from constitution.data.records import Pair
from constitution.diff.snapshot import keep_previous, write_snapshot
from constitution.errors import InputError
from constitution.generation import generate_pairs
from constitution.hashing import content_hash
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.run import describe, label_dataset
from constitution.llm.base import LLM
from constitution.llm.config import answer_fields
from constitution.llm.factory import make_llm
from constitution.loader import load_constitution
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.records import ScoredSet
from constitution.pipeline.report import write_report
from constitution.pipeline.stages import STAGES, StageRunner, file_fingerprint
from constitution.resources import default_audit_probes, demo_prompts
from constitution.sources import find_constitution

SPLIT = "by-prompt"  # how the test pairs are chosen (split_pairs): a run split another way trains again


class Pipeline:
    """One run of the job over a run folder."""

    def __init__(self, config: PipelineConfig, rerun_from: str | None = None, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.runner = StageRunner(self.run_dir, STAGES, rerun_from, log)
        self.constitution = load_constitution(find_constitution(config.constitution))
        self._models: dict[str, LLM] = {}

    # -- models: the policy and the judge share one engine when their configs are the same
    def _model(self, role: str) -> LLM:
        c = self.config
        config = c.jury()[0].llm if role == "judge" else c.generation.policy
        key = content_hash(config, c.engine if role == "judge" else "local")
        if key not in self._models:
            engine = c.engine if role == "judge" else "local"
            self._models[key] = make_llm(config, engine, c.ray)
        return self._models[key]

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()

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

    @property
    def audit_dir(self) -> Path:
        return self.run_dir / "audit"

    def run(self) -> dict[str, Any]:
        """Run every stage that is not up to date; returns the report's headline figures."""
        c = self.config
        try:
            if c.pairs:
                source, gen_fp = c.pairs, content_hash(file_fingerprint(c.pairs), c.pairs)
            else:
                prompts = c.prompts or str(demo_prompts())
                gen_fp = content_hash(file_fingerprint(prompts), c.generation)
                self.runner.run("generate", gen_fp, [self.pairs_path], lambda: self._generate(prompts))
                source = str(self.pairs_path)
            label_fp = content_hash(gen_fp, c.pairs_limit, self.constitution.hash, self._judges_fingerprint(), c.labeling)
            self.runner.run("label", label_fp, [self.labels_dir / "labels.jsonl"], lambda: self._label(source))
            self.close()  # free the judge's memory before training
            train_fp = content_hash(label_fp, c.training, c.test_fraction, c.seed, SPLIT)
            self.runner.run("train", train_fp, [self.model_dir / "config.json"], self._train)
            human = c.human_eval and file_fingerprint(c.human_eval)
            eval_fp = content_hash(train_fp, human, c.human_eval_limit)
            self.runner.run("evaluate", eval_fp, [self.eval_dir / "eval.json"], self._evaluate)
            audit = c.audit
            probes = audit.probes or str(default_audit_probes())
            audit_fp = content_hash(train_fp, audit, file_fingerprint(probes), audit.responses and file_fingerprint(audit.responses))
            self.runner.run("audit", audit_fp, [self.audit_dir / "audit.json"], lambda: self._audit(probes))
            report_fp = content_hash(eval_fp, audit_fp, [r.seconds for r in self.runner.state.values()])
            record = self.runner.run("report", report_fp, [self.run_dir / "report.md"], self._report)
            return record.info
        finally:
            self.close()

    def _judges_fingerprint(self) -> Any:
        """What about the judges decides the labels: one judge's answer settings; a jury's, with weights, names and quorum."""
        jury = self.config.jury()
        if len(jury) == 1:
            return answer_fields(jury[0].llm)
        return [(answer_fields(j.llm), j.weight, j.name) for j in jury], self.config.quorum

    # -- stages
    def _generate(self, prompts: str) -> dict[str, Any]:
        report = generate_pairs(self.config.generation, prompts, self.pairs_path, backend=self._model("policy"))
        return report.model_dump()

    def _label(self, source: str) -> dict[str, Any]:
        scan = scan_pairs(source, limit=self.config.pairs_limit, on_bad=lambda error: None)  # the total; a broken file stops here
        staged = self.labels_dir.with_name("labels.staging")
        recover_dir(self.labels_dir)
        shutil.rmtree(staged, ignore_errors=True)
        c = self.config
        jury = c.jury()
        if len(jury) > 1:
            self.close()  # the policy's engine: a jury loads each judge in turn
        with JudgmentCache(self.run_dir / "judgments.sqlite") as cache:
            summary = label_dataset(
                source, staged, self.constitution, jury, cache, c.labeling, engine=c.engine, ray=c.ray, quorum=c.quorum,
                limit=c.pairs_limit, total=scan.kept, llm=self._model("judge") if len(jury) == 1 else None,
            )  # fmt: skip
        self.log(describe(summary))
        write_snapshot(self.constitution, staged)
        keep_previous(self.labels_dir, self.run_dir / "previous", self.constitution)  # for the report's "Since the last run"
        replace_dir(staged, self.labels_dir)  # the labels folder appears whole or not at all
        return {"dropped_mismatched": scan.dropped_mismatched, **summary.model_dump(exclude={"per_principle"})}

    def _split(self) -> tuple[list[Pair], list[Pair]]:
        from constitution.reward.training import load_training_pairs

        pairs = load_training_pairs(self.config.training, self.labels_dir)[0]
        n_test = round(self.config.test_fraction * len(pairs))
        return split_pairs(pairs, len(pairs) - n_test, seed=self.config.seed)

    def _train(self) -> dict[str, Any]:
        from constitution.reward.training import train as train_model

        train, test = self._split()  # an interrupted run's checkpoints in model_dir are resumed from
        result = train_model(
            self.config.training, train, self.model_dir, train_data=str(self.labels_dir), constitution_hash=[self.constitution.hash],
            constitution=self.constitution,
        )
        return {**result.model_dump(), "test_pairs": len(test)}

    def _evaluate(self) -> dict[str, Any]:
        from constitution.reward.evaluate import evaluate_pairs, reliability_plot
        from constitution.reward.model import RewardModel

        self.eval_dir.mkdir(parents=True, exist_ok=True)
        model = RewardModel.load(self.model_dir)
        _, test = self._split()
        out: dict[str, ScoredSet] = {}
        sets = {"ai_test": test}
        if self.config.human_eval:
            if not Path(self.config.human_eval).exists():
                raise InputError("human_eval: no such file or folder", where=self.config.human_eval)
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
            out[name] = ScoredSet(report=report, chosen_rewards=chosen, rejected_rewards=rejected)
        atomic_write_text(self.eval_dir / "eval.json", json.dumps({name: s.model_dump() for name, s in out.items()}, indent=2))
        if model.heads and test:
            from constitution.reward.head_eval import heads_report

            atomic_write_text(self.eval_dir / "heads.json", heads_report(model, test).model_dump_json(indent=2))
        return {name: s.report.model_dump(include={"n", "accuracy", "ece"}) for name, s in out.items()}

    def _audit_items(self) -> list[AuditItem]:
        """The responses to audit: ``audit.responses``, else both responses of every held-out test pair, marked
        unsafe: a prompt's safety is unknown here (the demo's prompts are a third harmful), and on a harmful prompt a
        refusal rightly raises the reward, so the refusal probe (safe prompts only) is not asked of them."""
        from constitution.audit import read_items

        limit = self.config.audit.limit
        if self.config.audit.responses:
            return read_items(self.config.audit.responses, limit)
        _, test = self._split()
        items = [
            AuditItem(id=f"{pair.id}:{side}", conversation=pair.prompt, response=getattr(pair, f"response_{side}"), safe=False)
            for pair in test
            for side in ("a", "b")
        ]
        return items[:limit]

    def _audit(self, probes: str) -> dict[str, Any]:
        from constitution.audit import audit_reward_model, load_probes, write_audit
        from constitution.reward.model import RewardModel

        items = self._audit_items()
        if not items:  # no held-out pairs (test_fraction 0): nothing to audit, and no stale audit in the report
            shutil.rmtree(self.audit_dir, ignore_errors=True)
            self.log("[audit] no held-out responses to audit")
            return {"items": 0}
        model = RewardModel.load(self.model_dir)
        report = audit_reward_model(model, load_probes(probes), items, name=self.model_dir.name, batch_size=self.config.audit.batch_size)
        write_audit(report, self.audit_dir)
        return {"items": report.items, "flagged": [r.probe for r in report.probes if r.flagged]}

    def _report(self) -> dict[str, Any]:
        headline, screen = write_report(self.run_dir, self.labels_dir, self.eval_dir, self.runner.state)
        self.log(screen)
        return headline
