# synthmed — two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SYNTHMED := $(VENV)/bin/synthmed
DEMO_DIR ?= demo-output

.PHONY: demo test bench bench-deps venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,learned,dicom,review]'
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

# Browser tests drive Debian's chromium with Playwright (never a downloaded browser); DICOM
# files are checked with dicom3tools' dciodvfy and pushed to Orthanc with its DICOMweb plugin.
test: venv
	@{ command -v chromium && command -v dciodvfy && test -x /usr/sbin/Orthanc && \
	   test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so; } >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium dicom3tools orthanc orthanc-dicomweb >/dev/null; }
	$(PY) -m pytest -n 2 --doctest-modules src tests

# benchmarks/drr.py compares with DiffDRR, installed without its declared dependencies: its
# torchvision (and timm, pyvista, seaborn) are not on the DRR code path, and torchvision's
# wheel does not import beside our torch build. Only what diffdrr.drr and diffdrr.data
# import; torch is named at its installed version so that nothing replaces it. TorchIO is for
# benchmarks/mri_vs_torchio.py (random contrast of a label map against tio.RandomLabelsToImage).
BENCH_DEPS := $(VENV)/.bench-deps

$(BENCH_DEPS): $(VENV)/.installed
	$(PY) -m pip install --quiet "torch==$$($(PY) -c 'import torch; print(torch.__version__)')" \
	  torchio==1.2.1 kornia==0.9.0 einops==0.8.2 roma==1.8.0 fastcore==2.2.39 pandas==3.1.1
	$(PY) -m pip install --quiet --no-deps diffdrr==0.6.1
	touch $@

bench-deps: $(BENCH_DEPS)

bench: venv $(BENCH_DEPS)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/drr.py
	$(PY) benchmarks/ct_vs_skimage.py
	$(PY) benchmarks/mri_vs_torchio.py
	$(PY) benchmarks/learned.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
