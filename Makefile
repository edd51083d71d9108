# Two commands do everything on a fresh machine:
#   make demo   set up, then classify real award records and print a summary
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED := ../shared/data
DEMO_INPUT := $(if $(wildcard $(SHARED)/awards/usaspending_api_cbp_ice),$(SHARED)/awards/usaspending_api_cbp_ice,demo/data)

.PHONY: setup demo test bench train evaluate clean

$(BIN)/sanctuary-screen: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Error: Python 3.10 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/sanctuary-screen

demo: setup
	@mkdir -p results
	$(BIN)/sanctuary-screen classify $(DEMO_INPUT) -o results/demo.jsonl --jobs 2 --force

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_classify.py

train: setup
	$(BIN)/sanctuary-screen train

evaluate: setup
	$(BIN)/sanctuary-screen evaluate

clean:
	rm -rf $(VENV) results *.egg-info
