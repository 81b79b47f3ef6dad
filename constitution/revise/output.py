"""A ``revise`` run's folder, built as chains finish and published when the run ends:

* ``chains.jsonl``: each :class:`Chain` in full (reply, rounds of principle, critique and revision, final);
* ``sft.jsonl``: TRL's conversational prompt-completion rows, ``{id, prompt: [messages], completion: [{role:
  assistant, content: final}]}``, which ``SFTTrainer`` reads as is (loss on the completion only);
* ``pairs.jsonl``: ``{id, prompt, response_a: the original reply, response_b: the final revision}`` for
  ``constitution label`` (chains whose revision is empty or unchanged give none);
* ``skipped.jsonl``: chains not finished, with the reason; ``summary.json``: the :class:`ReviseSummary`.

Each file is written as ``NAME.partial`` and renamed when the run ends (a reader sees a whole file or none);
``summary.json`` comes last. A killed run leaves the previous run's files untouched; the rerun rebuilds every chain
from the generation cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from constitution.atomic import PartialFiles, atomic_write_text
from constitution.revise.records import Chain, ReviseSummary

FILES = ("chains.jsonl", "sft.jsonl", "pairs.jsonl", "skipped.jsonl")


class ReviseWriter:
    """The file sink of a run (see the module docstring); nothing is held in memory."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.files = PartialFiles(self.out, FILES)

    def _line(self, name: str, row: dict) -> None:
        self.files.write(name, json.dumps(row, ensure_ascii=False))

    def chain(self, chain: Chain, summary: ReviseSummary) -> None:
        """Write one finished chain and the rows it gives; count them in ``summary``."""
        self.files.write("chains.jsonl", chain.model_dump_json())
        summary.chains += 1
        prompt = [m.model_dump() for m in chain.prompt]
        if not chain.final.strip():
            summary.blank += 1
            return
        self._line("sft.jsonl", {"id": chain.id, "prompt": prompt, "completion": [{"role": "assistant", "content": chain.final}]})
        summary.sft_rows += 1
        if chain.final.strip() == chain.response.strip():
            summary.unchanged += 1
            return
        self._line("pairs.jsonl", {"id": chain.id, "prompt": prompt, "response_a": chain.response, "response_b": chain.final, "policy": chain.policy})
        summary.pairs += 1

    def skipped(self, chain_id: str, reason: str, summary: ReviseSummary) -> None:
        self._line("skipped.jsonl", {"id": chain_id, "reason": reason})
        summary.skipped += 1

    def close(self) -> None:
        """Sync and close the partial files."""
        self.files.close()

    def finish(self, summary: ReviseSummary) -> None:
        """Publish the files, then the summary."""
        self.files.publish()
        atomic_write_text(self.out / "summary.json", summary.model_dump_json(indent=2))

    def __enter__(self) -> ReviseWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
