"""The reward audit of a per-principle model says which heads move (synthetic principles of known structure)."""

from __future__ import annotations

import pytest

from constitution.audit import AuditItem, audit_reward_model, load_probes
from constitution.data.records import Message
from constitution.resources import default_audit_probes
from constitution.reward.model import RewardModel
from tests.reward.principle_data import TOPICS


@pytest.mark.slow
def test_a_fake_citation_moves_the_cites_head_and_filler_the_concise_head(headed):
    folder, _ = headed
    items = [
        AuditItem(id=str(k), conversation=[Message(role="user", content=q)], response=f"Thank you for asking! {a}.")
        for k, (q, a, _) in enumerate(TOPICS)
    ]
    report = audit_reward_model(RewardModel.load(folder), load_probes(default_audit_probes()), items)
    citation = {h.head: h for h in report.result("fake_citation").heads}
    assert set(citation) == {"polite", "cites", "concise"}
    assert citation["cites"].moved and citation["cites"].mean > 0
    filler = {h.head: h for h in report.result("filler").heads}
    assert filler["concise"].moved and filler["concise"].mean < 0
