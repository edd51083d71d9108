# Two commands do everything on a fresh machine:
#   make demo   set up, classify real award records and PDFs, print a summary, write the vendor list
#   make test   set up, then run the test suite
# The first of these that is Python 3.11 or newer (python3 may be older, e.g. Ubuntu 22.04's 3.10).
PYTHON ?= $(or $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; \
  done),python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED := ../shared/data
# With ../shared/data: all 57,476 CBP/ICE transactions and the DHS, FPDS and vendor PDFs.
# Without it (a user's clone): the real sample bundled in demo/data.
HAVE_SHARED := $(wildcard $(SHARED)/awards/usaspending_api_cbp_ice)
DEMO_INPUT  := $(if $(HAVE_SHARED),$(SHARED)/awards/usaspending_api_cbp_ice $(SHARED)/pdfs/dhs $(SHARED)/pdfs/fpds $(SHARED)/pdfs/vendor_docs,demo/data)

.PHONY: setup system-deps test-deps demo test bench train evaluate clean

# Tesseract OCRs scanned PDF pages; chromium runs the review app's real-browser
# test. Each is installed with apt-get where we are root, best effort: when that
# fails (offline, no such package) a note says so and the rest goes on, since
# text-layer pages need no OCR and the browser test skips without chromium.
define need
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing $(2) ($(3))..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; } \
	      || echo "Note: could not install $(2) with apt-get; $(4)."; \
	  else \
	    echo "Note: $(1) is not installed; $(4)."; \
	    echo "      Install it with: sudo apt-get install $(2)"; \
	  fi; }
endef

system-deps:
	$(call need,tesseract,tesseract-ocr,OCR for scanned PDF pages,scanned PDF pages cannot be OCR'd)

test-deps:
	$(call need,chromium,chromium,the review app's real-browser test,the review app's browser test is skipped)

$(BIN)/sanctuary-screen: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Error: Python 3.11 or newer is needed (found $$($(PYTHON) --version)); run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)   # --clear: an older venv (e.g. Python 3.10) is rebuilt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/sanctuary-screen system-deps

demo: setup
	@mkdir -p results
	$(BIN)/sanctuary-screen classify $(DEMO_INPUT) -o results/demo.jsonl --jobs 2 --force
	@$(BIN)/sanctuary-screen vendors results/demo.jsonl -o results/vendors.csv
	@$(BIN)/sanctuary-screen vendors results/demo.jsonl -o results/vendors.md
	@echo "Vendor list: results/vendors.md (readable report), results/vendors.csv (opens in Excel)"

test: setup test-deps
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_pdf.py --no-ocr
	$(BIN)/python bench/bench_rollup.py
	$(BIN)/python bench/bench_review.py
	$(BIN)/python bench/bench_log.py

train: setup
	$(BIN)/sanctuary-screen train

evaluate: setup
	$(BIN)/sanctuary-screen evaluate

clean:
	rm -rf $(VENV) results *.egg-info
