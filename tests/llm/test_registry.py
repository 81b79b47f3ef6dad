"""A backend is added by one registration: configs, YAML, the factory and the CLI's --backend all pick it up."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from constitution.cli import build_parser
from constitution.cli._judges import judges_from_args
from constitution.llm import config as llm_config_module
from constitution.llm import llm_config, make_llm, register_backend
from constitution.llm.config import BackendSettings
from constitution.pipeline.config import PipelineConfig


class EchoConfig(BackendSettings):
    """A made-up backend's settings (the registry is what is under test, not a model)."""

    backend: Literal["echo"] = "echo"
    loudness: int = Field(1, ge=1, description="how loud the echo is")


class EchoBackend:
    """Fake: stands in for a real backend, to show that the factory calls the registered constructor."""

    def __init__(self, config: EchoConfig) -> None:
        self.config = config


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    """A copy of the registry for the test, so the made-up backend leaves no trace."""
    monkeypatch.setattr(llm_config_module, "_REGISTRY", dict(llm_config_module._REGISTRY))


def test_one_registration_makes_a_backend_usable_from_configs_the_factory_and_the_cli(registry):
    register_backend("echo", EchoConfig, EchoBackend, generates=False)

    assert llm_config(backend="echo", loudness=3) == EchoConfig(loudness=3)
    pipeline = PipelineConfig.model_validate({"judge": {"backend": "echo", "model": "m", "loudness": 2}})
    assert pipeline.judge == EchoConfig(model="m", loudness=2)
    assert PipelineConfig.model_validate(pipeline.model_dump(mode="json")).judge == pipeline.judge  # YAML round trip
    with pytest.raises(ValidationError, match="loudness"):
        llm_config(backend="echo", loudness=0)
    built = make_llm(EchoConfig(loudness=5))
    assert isinstance(built, EchoBackend) and built.config.loudness == 5

    args = build_parser().parse_args(["label", "pairs.jsonl", "--out", "o", "--backend", "echo", "--loudness", "4", "--judge", "m"])
    (spec,) = judges_from_args(args)
    assert spec.llm == EchoConfig(model="m", loudness=4)
    (spec,) = judges_from_args(build_parser().parse_args(["label", "p", "--out", "o", "--judge", "m,backend=echo,loudness=6"]))
    assert spec.llm == EchoConfig(model="m", loudness=6)
    with pytest.raises(SystemExit):  # a judge that writes nothing is no policy
        build_parser().parse_args(["generate", "prompts.jsonl", "--out", "o", "--backend", "echo"])


def test_an_unregistered_backend_is_an_error_naming_the_registered_ones():
    with pytest.raises(ValidationError, match="unknown backend 'echo'; registered: vllm, openai, hf"):
        llm_config(backend="echo")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["label", "p", "--out", "o", "--backend", "echo"])


def test_a_config_must_name_its_backend(registry):
    with pytest.raises(ValueError, match="must declare backend"):
        register_backend("other", EchoConfig, EchoBackend)


def test_a_backend_whose_model_is_an_api_name_is_not_looked_for_on_this_machine(registry, tmp_path):
    """A third-party backend's model ("gpt-4o-mini") is a name only its API knows: registered with local_model=False
    it is built, and a jury of it is not refused as "no such folder"; a backend that loads its model here still is."""
    from constitution.embedded_models import MissingModelError
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.jury.config import JudgeSpec
    from constitution.labeling.jury.runner import Jury
    from constitution.loader import load_constitution

    register_backend("echo", EchoConfig, EchoBackend, generates=False, local_model=False)
    assert make_llm(EchoConfig(model="gpt-4o-mini")).config.model == "gpt-4o-mini"
    (tmp_path / "p.yaml").write_text("kind: principle_set\nid: s\nprinciples:\n  - id: p\n    text: Which is kinder?\n")
    constitution = load_constitution(tmp_path / "p.yaml")
    spec = JudgeSpec(llm=EchoConfig(model="gpt-4o-mini"))
    Jury(constitution, [spec, spec], JudgmentCache(tmp_path / "c.sqlite"))  # quorum of all: checked before any judge runs

    llm_config_module._REGISTRY["echo"] = llm_config_module._REGISTRY["echo"]._replace(local_model=True)
    with pytest.raises(MissingModelError, match="gpt-4o-mini"):
        make_llm(EchoConfig(model="gpt-4o-mini"))
    with pytest.raises(MissingModelError, match="gpt-4o-mini"):
        Jury(constitution, [spec, spec], JudgmentCache(tmp_path / "c2.sqlite"))
