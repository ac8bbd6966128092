# synthmed — two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SYNTHMED := $(VENV)/bin/synthmed
DEMO_DIR ?= demo-output

.PHONY: demo test bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,learned]'
	touch $@

demo: venv
	$(SYNTHMED) generate examples/specs/chest_xray.yaml -o $(DEMO_DIR) --overwrite
	$(SYNTHMED) inspect $(DEMO_DIR)
	$(SYNTHMED) evaluate --synthetic $(DEMO_DIR) -o $(DEMO_DIR)/report --quiet
	@echo
	@echo "Demo dataset:  $(abspath $(DEMO_DIR))"
	@echo "Contact sheet: $(abspath $(DEMO_DIR))/contact_sheet.png"
	@echo "Dataset card:  $(abspath $(DEMO_DIR))/dataset_card.md"
	@echo "Report:        $(abspath $(DEMO_DIR))/report/report.html"

# Browser tests drive Debian's chromium with Playwright (never a downloaded browser).
test: venv
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(PY) -m pytest -n 2 --doctest-modules src tests

bench: venv
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
