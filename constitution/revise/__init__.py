"""``constitution revise``: Constitutional AI's supervised stage (critique and revise replies by sampled principles),
every generation cached so that a killed run resumes and a principle edit redoes only the chains that drew it."""

from constitution.revise.cache import Generation, GenerationCache, GenerationKey
from constitution.revise.config import ReviseConfig
from constitution.revise.inputs import ChainInput, load_inputs
from constitution.revise.plan import round_principles
from constitution.revise.records import Chain, ReviseSummary, RevisionRound
from constitution.revise.reviser import Reviser

__all__ = [
    "Chain",
    "ChainInput",
    "Generation",
    "GenerationCache",
    "GenerationKey",
    "ReviseConfig",
    "ReviseSummary",
    "Reviser",
    "RevisionRound",
    "load_inputs",
    "round_principles",
]
