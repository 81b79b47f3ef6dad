"""`constitution serve all-minilm-l6-v2` (an embedded alias, as `score` takes one) starts: the model's content
identity is read from the folder the alias names (review of issue 32 §1.9: startup stopped with "cannot be pinned")."""

from __future__ import annotations


def test_an_embedded_alias_is_served_under_its_folders_identity(minilm_path):
    from constitution.model_identity import model_identity
    from constitution.serve.config import ServerConfig
    from constitution.serve.main import load_first

    served, _ = load_first("all-minilm-l6-v2", ServerConfig(), None)
    assert served.identity.model_id == model_identity(minilm_path)
