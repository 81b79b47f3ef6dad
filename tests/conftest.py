"""Session-wide test fixtures: the embedded judge, and ONE of each heavy backend for the whole session.

Fixtures (all session-scoped; each skips with a reason when what it needs is missing):

* ``judge_model_path``: local folder of the embedded judge (SmolLM2-135M-Instruct, fp32);
* ``minilm_path``: local folder of the embedded reward backbone (all-MiniLM-L6-v2);
* ``judge_tokenizer``: its tokenizer;
* ``hf_judge``: :class:`HfBackend` (fp32);
* ``vllm_judge``: :class:`VllmBackend`, in-process engine (fp32, eager, prefix caching), marked ``vllm``;
* ``vllm_server``: a real ``vllm serve`` on a free port (``.base_url``), started on first use (~30–60 s);
* ``openai_judge``: :class:`OpenAIBackend` pointed at ``vllm_server``.

The environment is set here, before torch or vLLM is imported: one OpenMP thread per core, shared out among the
pytest-xdist workers where there are several (on a quiet 2-core
machine, two threads ran the in-process training and judging tests 1.6× faster than one: 68 s against 112 s for
``tests/reward/test_heads.py`` and a safety judge test; tests that start processes that compute at the same time set
their own ``OMP_NUM_THREADS=1``), vLLM in-process (no engine subprocess), CPU-safe vLLM cache/KV settings.
"""

from __future__ import annotations

import os
import sys

# Under pytest-xdist (`make test` runs `-n 2`) the cores are shared out among the workers, so two workers on two cores
# do not each start two OpenMP threads that spin against each other.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from constitution.llm.vllm_env import apply_vllm_env  # noqa: E402

apply_vllm_env(kvcache_gib=1, single_process=True)

import pytest  # noqa: E402

from constitution.llm.config import HfConfig, OpenAIConfig, VllmConfig  # noqa: E402
from constitution.embedded_models import BACKBONE_ALIAS, JUDGE_ALIAS, ModelNotFoundError, resolve_model  # noqa: E402


def require_vllm() -> None:
    """Skip the calling test/fixture unless vLLM imports."""
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means "no vLLM here"
        pytest.skip(f"vllm is not importable: {exc.__class__.__name__}: {exc}")


def embedded(alias: str) -> str:
    """The local folder of an embedded model; skips the caller when its wheel is not installed."""
    try:
        return resolve_model(alias)
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def judge_model_path() -> str:
    """Local transformers folder of the embedded judge."""
    return embedded(JUDGE_ALIAS)


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """Local folder of the embedded reward backbone (MiniLM)."""
    return embedded(BACKBONE_ALIAS)


@pytest.fixture(scope="session")
def judge_tokenizer(judge_model_path: str):
    """The embedded judge's tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(judge_model_path)


@pytest.fixture(scope="session")
def hf_judge(judge_model_path: str):
    """One transformers backend (fp32) for the session."""
    from constitution.llm.hf_backend import HfBackend

    backend = HfBackend(HfConfig(model=JUDGE_ALIAS, dtype="float32", batch_size=8, max_model_len=2048))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_judge(judge_model_path: str):
    """One in-process vLLM engine (fp32, eager) for the session."""
    require_vllm()
    from constitution.llm.vllm_backend import VllmBackend

    backend = VllmBackend(VllmConfig(model=JUDGE_ALIAS, dtype="float32", max_model_len=2048, kvcache_gib=1))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_server(judge_model_path: str):
    """A real ``vllm serve`` of the judge on a free port (stopped at the end of the session)."""
    require_vllm()
    from tests.helpers.vllm_server import ServerConfig, VllmServer

    server = VllmServer(ServerConfig(model=JUDGE_ALIAS, max_model_len=2048, kvcache_gib=1))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"could not start vllm serve: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openai_judge(vllm_server):
    """The openai backend talking to the session's ``vllm serve``."""
    from constitution.llm.openai_backend import OpenAIBackend

    backend = OpenAIBackend(
        OpenAIConfig(model=JUDGE_ALIAS, base_urls=[vllm_server.base_url], max_model_len=2048)
    )
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def reward_folder(tmp_path_factory):
    """A small real reward model folder: MiniLM with a seeded, untrained scalar head (fast to make)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("reward_model")
    src = resolve_model(BACKBONE_ALIAS)
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    return folder


# Under pytest-xdist the tests that start model engines (vLLM in-process or `vllm serve`, Ray clusters, Ray Serve) run
# one after the other in one worker: two at once on a 2-core, 24 GiB machine starve each other (memory, and the timing
# of the kill and restart tests). The session fixtures of tests/reward and tests/audit (models trained once) keep their
# folder in one worker; every other file is one unit, so its module fixtures are built once. (xdist's own
# `xdist_group` marks do not reach its scheduler under pytest 9.2, hence a scheduler of ours.)
ENGINE_FILES = {
    "tests/cli/test_first_hour.py", "tests/cli/test_light_and_installed.py", "tests/diff/test_bench_diff.py",
    "tests/engines/test_ray_engine.py", "tests/engines/test_ray_pool.py", "tests/jury/test_jury_cli.py",
    "tests/llm/test_lazy_judge.py", "tests/llm/test_openai_backend.py", "tests/llm/test_vllm_backend.py",
    "tests/llm/test_vllm_env.py", "tests/pipeline/test_label_then_train.py", "tests/rl/test_alarm_reach.py",
    "tests/serve/test_review_fixes_32.py", "tests/test_best_of_n.py", "tests/test_generation.py",
    "tests/test_injection_probes.py", "tests/test_server_idempotency.py", "tests/test_server_ray.py",
}  # fmt: skip
ENGINE_FIXTURES = {"vllm_judge", "vllm_server", "openai_judge"}  # a file using one must be in ENGINE_FILES
SHARED_FOLDERS = ("tests/reward/", "tests/audit/")
# Units of a minute or more each (`--durations`), sent out before the rest, longest first.
LONG_UNITS = (
    "engines", "tests/reward/", "tests/revise/test_revise_resume.py", "tests/revise/test_revise_runs.py",
    "tests/cli/test_label_cli.py", "tests/rl/test_rl_command.py", "tests/rl/test_monitor_refresh.py", "tests/audit/",
    "tests/safety/test_judge_mode.py", "tests/jury/test_jury_pipeline.py",
)  # fmt: skip


def file_of(nodeid: str) -> str:
    """The file part of a test id."""
    return nodeid.split("::", 1)[0]


def xdist_unit(nodeid: str) -> str:
    """The unit of work a test is sent in: ``engines``, the folder whose session fixtures it shares, or its file."""
    path = file_of(nodeid)
    if path in ENGINE_FILES:
        return "engines"
    return next((folder for folder in SHARED_FOLDERS if path.startswith(folder)), path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test file that uses the session's vLLM must be listed in ENGINE_FILES."""
    strays = sorted({file_of(i.nodeid) for i in items if ENGINE_FIXTURES & set(getattr(i, "fixturenames", ())) and xdist_unit(i.nodeid) != "engines"})
    if strays:
        raise pytest.UsageError(f"tests/conftest.py: add {strays} to ENGINE_FILES (they use the session's vLLM)")


@pytest.hookimpl(optionalhook=True)  # the suite also runs where pytest-xdist is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With ``--dist loadgroup``: xdist's scope scheduler (largest unit first) over :func:`xdist_unit`."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            """The units known to be long go out first, so no worker ends the run alone on one of them."""
            first = next((unit for unit in LONG_UNITS if unit in self.workqueue), None)
            if first is not None:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return UnitScheduling(config, log)


SLOW_REPORT_S = 60.0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test phase over a minute is named as it finishes, so a CI log cut off by its time limit still shows them."""
    if report.duration >= SLOW_REPORT_S and "PYTEST_XDIST_WORKER" not in os.environ:  # xdist's controller prints
        sys.stderr.write(f"\nslow: {report.duration:.0f} s {report.when} {report.nodeid}\n")
