"""A jury of judges (PoLL: several small judges instead of one large one): every judge judges every planned
comparison, and the jury's label is the weighted mean of theirs.

The judges run one after the other, each loaded, run by the ordinary :class:`Labeler` into ``OUT/judges/<name>/``
(a complete label folder of its own) and released. Their judgments share one judgment cache, told apart by the
judge's identity. The jury then reads the judges' labels back, a few floats per pair id
(:mod:`constitution.labeling.jury.votes`), and walks the input once more, writing a pair's jury label when at least
``quorum`` judges labelled it and listing it in ``skipped.jsonl`` when not. ``OUT`` ends up like a single judge's folder (``labels.jsonl``, the dataset,
``summary.json`` (a :class:`JurySummary`), ``truncated.jsonl``, ``skipped.jsonl``) plus ``judges/``.

A judge that cannot be loaded, or stops (its backend down), is reported in the summary and labels nothing; two
judges with the same identity (the same answers) are an input error.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from constitution.data.pairs import PairReader
from constitution.data.records import FeedbackRecord, Pair
from constitution.embedded_models import MissingModelError
from constitution.errors import InputError
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.config import LabelConfig
from constitution.labeling.folder import label_to_folder
from constitution.labeling.jury.config import JudgeSpec, check_quorum, juror_names
from constitution.labeling.jury.summary import JurorReport, JuryStats, JurySummary
from constitution.labeling.jury.votes import Combined, VoteTable, combine
from constitution.labeling.labeler import Labeler
from constitution.labeling.output import LabelWriter
from constitution.labeling.stats import LabelSummary
from constitution.llm.config import RayConfig
from constitution.llm.factory import Engine, check_model, make_llm
from constitution.principles import Constitution


class Jury:
    """Judges pairs with several judges and combines their labels (see the module docstring)."""

    def __init__(
        self,
        constitution: Constitution,
        judges: list[JudgeSpec],
        cache: JudgmentCache,
        config: LabelConfig | None = None,
        *,
        quorum: int | None = None,
        engine: Engine = "local",
        ray: RayConfig | None = None,
    ) -> None:
        self.constitution = constitution
        self.judges = judges
        self.names = juror_names(judges)
        self.name = "jury:" + "+".join(self.names)
        self.cache = cache
        self.config = config or LabelConfig()
        self.quorum = check_quorum(quorum, len(judges))
        self.engine = engine
        self.ray = ray
        if self.quorum == len(judges):  # every judge is needed: a missing model is refused before any judge runs
            for spec in judges:
                check_model(spec.llm)

    def label(self, source: str, out: str | Path, *, limit: int | None = None, total: int | None = None, show_progress: bool = True) -> JurySummary:
        """Label the source's pairs into ``out`` with every judge, then combine; returns the jury's summary."""
        started = time.perf_counter()
        out = Path(out)
        shutil.rmtree(out / "judges", ignore_errors=True)  # a judge that fails this time leaves no stale labels
        members: list[JurorReport] = []
        summaries: list[LabelSummary | None] = []
        identities: dict[str, str] = {}
        votes = VoteTable(len(self.judges))
        for j, (spec, name) in enumerate(zip(self.judges, self.names)):
            folder = out / "judges" / name
            member, summary = self._run_judge(spec, name, PairReader(source, limit=limit), folder, identities, total, show_progress)
            if summary is not None:
                member.first_failure = votes.read(j, folder)
            members.append(member)
            summaries.append(summary)
        return self._combine(source, out, limit, votes, members, summaries, started)

    def _run_judge(
        self, spec: JudgeSpec, name: str, reader: PairReader, folder: Path, identities: dict[str, str], total: int | None, show_progress: bool
    ) -> tuple[JurorReport, LabelSummary | None]:
        """Load one judge, label into its folder, release it; a judge that fails is reported, not raised."""
        member = JurorReport(name=name, weight=spec.weight)
        try:
            llm = make_llm(spec.llm, self.engine, self.ray)
        except MissingModelError as exc:  # with a quorum below all judges (else refused in __init__): the others go on
            member.error = f"could not load: {exc}"
            return member, None
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure: this judge is out, the others go on
            member.error = f"could not load: {exc.__class__.__name__}: {exc}"
            return member, None
        try:
            if llm.identity in identities:
                raise InputError(
                    f"judges {identities[llm.identity]!r} and {name!r} are the same judge ({llm.identity}): they would "
                    "give the same answers; give them different models or settings"
                )
            identities[llm.identity] = name
            member.judge, member.identity = llm.name, llm.identity
            labeler = Labeler(self.constitution, llm, self.cache, self.config)
            summary = label_to_folder(labeler, reader, folder, total=total, show_progress=show_progress, desc=name)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the judge stopped (e.g. its server is down): reported, answers kept in the cache
            member.error = f"stopped: {exc.__class__.__name__}: {exc}"
            return member, None
        finally:
            llm.close()
        member = member.model_copy(update=summary.model_dump(include=set(JurorReport.model_fields) - {"judge"}))
        return member, summary

    def _combine(
        self, source: str, out: Path, limit: int | None, votes: VoteTable, members: list[JurorReport],
        summaries: list[LabelSummary | None], started: float,
    ) -> JurySummary:  # fmt: skip
        """The jury's labels in input order, and its summary."""
        weights = [spec.weight for spec in self.judges]
        stats = JuryStats(self.names)
        judge_down = any(s is None for s in summaries)
        below = failed = identical = 0
        with LabelWriter(out) as writer:
            reader = writer.reading(PairReader(source, limit=limit))
            for index, pair in enumerate(reader):
                pair_votes = votes.pop(pair.id)
                tie = pair.response_a == pair.response_b  # p = 0.5 from every judge, none asked: not a vote
                if not tie:
                    stats.add_votes(pair_votes)
                if pair_votes.count >= self.quorum:
                    record = _record(pair, combine(pair_votes, weights), pair_votes.truncated, self.name, self.constitution.hash)
                    if tie:
                        identical += 1
                    else:
                        stats.add_label(record, pair_votes)
                    if record.truncated:
                        writer.truncated(index, pair.id)
                    writer.write(index, record)
                    continue
                below += 1
                failed += pair_votes.failed or judge_down
                missing = [n for n, p in zip(self.names, pair_votes.p_a) if p is None]
                writer.skipped(
                    index, pair.id,
                    f"below quorum: {pair_votes.count} of {len(self.names)} judges labelled it (quorum {self.quorum}); "
                    f"no label from {', '.join(missing)} (see judges/<name>/skipped.jsonl and the summary)",
                )
            summary = stats.summary(
                members, summaries, judge=self.name, quorum=self.quorum, below_quorum=below, failed=failed,
                identical=identical, seconds=time.perf_counter() - started, constitution_hash=self.constitution.hash,
            )  # fmt: skip
            summary.rows_bad = reader.report.bad_rows
            writer.finish(summary)
        return summary


def _record(pair: Pair, label: Combined, truncated: bool, judge: str, constitution_hash: str) -> FeedbackRecord:
    return FeedbackRecord.of(
        pair, label.p_a, label.per_principle, position_consistent=label.position_consistent, judge=judge,
        constitution_hash=constitution_hash, truncated=truncated,
    )  # fmt: skip
