# Two commands do everything on a fresh machine:
#   make demo   set up, classify real award records and PDFs, print a summary, write the vendor list
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED := ../shared/data
# With ../shared/data: all 57,476 CBP/ICE transactions and the DHS, FPDS and vendor PDFs.
# Without it (a user's clone): the real sample bundled in demo/data.
HAVE_SHARED := $(wildcard $(SHARED)/awards/usaspending_api_cbp_ice)
DEMO_INPUT  := $(if $(HAVE_SHARED),$(SHARED)/awards/usaspending_api_cbp_ice $(SHARED)/pdfs/dhs $(SHARED)/pdfs/fpds $(SHARED)/pdfs/vendor_docs,demo/data)

.PHONY: setup system-deps demo test bench train evaluate clean

# Tesseract OCRs scanned PDF pages. Installed with apt-get where we are root;
# otherwise a message says how (text-layer pages work without it).
system-deps:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing tesseract-ocr (OCR for scanned PDF pages)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; \
	  else \
	    echo "Note: tesseract is not installed, so scanned PDF pages cannot be OCR'd."; \
	    echo "      Install it with: sudo apt-get install tesseract-ocr (Debian/Ubuntu) or brew install tesseract"; \
	  fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium (the review app's real-browser test)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Note: chromium is not installed, so the review app's browser test is skipped."; \
	    echo "      Install it with: sudo apt-get install chromium"; \
	  fi; }

$(BIN)/sanctuary-screen: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Error: Python 3.10 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
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

test: setup
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
