# Two entry points (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean gallery

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel -q
	# torch: a CPU wheel of 2.13.0 is available offline; an unpinned torch would pull a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev,data,dask]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/da run experiments/quickstart.yaml

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) *.egg-info

# Regenerate the README gallery from the quickstart's own figures.
gallery: $(STAMP)
	$(VENV)/bin/da run experiments/quickstart.yaml -q
	$(PY) docs/gallery/collect_gallery.py runs/quickstart docs/gallery
