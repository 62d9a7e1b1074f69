# Two entry points (see README): `make demo` and `make test`. `make test-vision` runs the
# `vision` tests against the real torchvision and timm, in a second venv (see below).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean gallery test-vision install-vision

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel -q
	# torch: a CPU wheel of 2.13.0 is available offline; an unpinned torch would pull a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev,data,dask,tensorboard,mlflow]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/da run experiments/quickstart.yaml

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(VISION_VENV) *.egg-info

# Regenerate the README gallery from the quickstart's own figures.
gallery: $(STAMP)
	$(VENV)/bin/da run experiments/quickstart.yaml -q
	$(PY) docs/gallery/collect_gallery.py runs/quickstart docs/gallery

# The vision stack. PyPI's torchvision cannot load beside the CPU torch wheel of $(VENV)
# ("operator torchvision::nms does not exist"), so it gets its own venv with the CUDA build of
# torch (it runs on the CPU; ~5.5 GB, taken from local disk by pip on this machine's Python 3.11).
# On aarch64 use VISION_TORCH="torch==2.9.1 torchvision==0.24.1".
# The stamp is a hash of the pins and the package metadata, not a file date, so a fresh clone
# (CI, which passes VISION_VENV=a folder outside the clone) reuses a venv built from the same
# inputs, and a change of pins or extras rebuilds it.
VISION_VENV  ?= .venv-vision
VISION_TORCH ?= torch==2.14.1 torchvision==0.29.1
VPY          := $(VISION_VENV)/bin/python
VISION_KEY   := $(shell { echo "$(VISION_TORCH)"; cat setup.cfg pyproject.toml; } | sha256sum | cut -c1-16)
VSTAMP       := $(VISION_VENV)/.installed-$(VISION_KEY)

$(VSTAMP):
	test -x $(VPY) || $(PYTHON) -m venv $(VISION_VENV)
	$(VPY) -m pip install --upgrade pip setuptools wheel -q
	$(VPY) -m pip install -q $(VISION_TORCH)
	$(VPY) -m pip install -q -e ".[dev,data,vision]"
	rm -f $(VISION_VENV)/.installed-*
	touch $@

install-vision: $(VSTAMP)

# DA_REQUIRE_VISION=1 turns a `vision` test that cannot import torchvision/timm into a failure.
test-vision: $(VSTAMP)
	# the venv may hold an editable install of another clone: point it at this one (the subshell keeps
	# the `cd /` that makes the check import the installed da, not ./da, away from the install)
	(cd / && $(abspath $(VPY)) -c "import da, sys; sys.exit(da.__file__ != '$(CURDIR)/da/__init__.py')") \
		|| $(VPY) -m pip install -q --no-deps --no-build-isolation -e .
	DA_REQUIRE_VISION=1 $(VPY) -m pytest -m vision
