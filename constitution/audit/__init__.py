"""Reward-model audit: counterfactual probes (padding, repetition, flattery, fake citations … that must not raise the
reward, and a refusal and a cut that must lower it) declared in YAML, each with a length-matched neutral control, and
a report of how the normalised reward moves.

(Not to be confused with :mod:`constitution.labeling.injection_probes`, which probes the *judge* with prompt
injections.)
"""

from constitution.audit.output import audit_table, write_audit
from constitution.audit.probeset import AuditItem, Probe, ProbeSet, load_probes
from constitution.audit.records import AuditReport, Gate, ProbeResult
from constitution.audit.run import audit_reward_model, read_items

__all__ = [
    "AuditItem",
    "AuditReport",
    "Gate",
    "Probe",
    "ProbeResult",
    "ProbeSet",
    "audit_reward_model",
    "audit_table",
    "load_probes",
    "read_items",
    "write_audit",
]
