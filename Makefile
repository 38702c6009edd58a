# Active Forgetting, the runnable book.
#   make book       install what is needed, execute every chapter, build the HTML book
#   make test       unit tests, every chapter executed as a test (nbval), the HTML build, the browser test
#   make browser    open every page of the built book in headless Chromium (tests/browser)
#   make benchmark  timings of benchmarks/ (not a test)
#   make lab        install JupyterLab (the [lab] extra), open chapters as notebooks by default, start it
# AFM_PROFILE picks the compute profile (smoke | book | paper); `make test` defaults to smoke.

PYTHON  ?= python3
PIP     ?= $(PYTHON) -m pip
PROFILE ?= $(or $(AFM_PROFILE),book)
BUILD   := _build/$(PROFILE)
JB_FLAGS = -W -n --keep-going

# Offline data beside the repository (as in CI) is used when AFM_DATA_DIR is not set.
ifneq ($(wildcard ../shared/data),)
export AFM_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: help install lab lab-setup config mathjax book html notebooks test unit nbval browser benchmark clean

help:
	@sed -n '2,8p' Makefile

# Exact versions come from constraints.txt (pyproject.toml gives ranges); CI installs the same.
CONSTRAINTS := -c constraints.txt

install:
	$(PIP) install $(CONSTRAINTS) -e ".[book,test,cluster]"

# JupyterLab with the chapters opened as notebooks (jupytext) by default, once per environment
# (python -m afm.lab.jupyterlab writes JupyterLab's default-viewer setting; README).
lab-setup:
	$(PIP) install $(CONSTRAINTS) -e ".[lab]"
	$(PYTHON) -m afm.lab.jupyterlab

lab: lab-setup
	AFM_PROFILE=$(PROFILE) $(PYTHON) -m jupyterlab book/01_forgetting_layer.md

# Each profile gets its own build folder and its own Jupyter cache, so smoke outputs never
# stand in for the book's. Jupyter's cache sees only the notebooks' code, not afm's, so its
# folder is named after the hash of afm's full text: any change to afm re-executes the
# chapters (which show afm's source). Their afm results (AFM_CACHE_DIR) are keyed on afm's
# code only (docstrings and comments left out), so mending a docstring re-executes the
# chapters from cached results (about a minute), while changing code recomputes them.
AFM_HASH = $(shell $(PYTHON) -c "from afm.lab.cache import source_hash; print(source_hash(code_only=False)[:16])" 2>/dev/null)

config: _config.yml
	@mkdir -p $(BUILD)
	sed -e 's#_build/.jupyter_cache#$(BUILD)/.jupyter_cache/afm-$(AFM_HASH)#' \
	    -e 's#: book/_ext$$#: $(CURDIR)/book/_ext#' _config.yml > $(BUILD)/_config.yml

# MathJax 3 is served by the book itself (_config.yml: mathjax_path), so equations render
# with no internet (CI, a reader offline). npm installs it once into _build/node; its es5/
# folder becomes _build/static/mathjax, which Sphinx copies into the HTML's _static/.
MATHJAX_VERSION ?= 3.2.2
MATHJAX_DIR     := _build/static/mathjax
MATHJAX_STAMP   := $(MATHJAX_DIR)/.mathjax-$(MATHJAX_VERSION)

mathjax: $(MATHJAX_STAMP)

$(MATHJAX_STAMP):
	@command -v npm >/dev/null || { echo "make mathjax: npm is needed to install MathJax for the book (Debian: apt-get install npm)" >&2; exit 1; }
	npm install --prefix _build/node --no-save --no-package-lock --no-audit --no-fund --loglevel=error mathjax@$(MATHJAX_VERSION)
	mkdir -p $(dir $(MATHJAX_DIR)) && rm -rf $(MATHJAX_DIR).tmp && cp -R _build/node/node_modules/mathjax/es5 $(MATHJAX_DIR).tmp
	touch $(MATHJAX_DIR).tmp/$(notdir $@)
	rm -rf $(MATHJAX_DIR) && mv $(MATHJAX_DIR).tmp $(MATHJAX_DIR)

html: config mathjax
	AFM_PROFILE=$(PROFILE) jupyter-book build . --config $(BUILD)/_config.yml \
	    --path-output $(BUILD) $(JB_FLAGS)
	@echo "The book is at $(BUILD)/_build/html/index.html"

book: install
	$(MAKE) html

notebooks:
	$(PYTHON) -m afm.lab.book notebooks $(BUILD)/notebooks

unit:
	$(PYTHON) -m pytest tests -q

# The built book in a real browser: every page served on 127.0.0.1 and opened in headless
# Chromium (Debian: apt-get install chromium chromium-driver); see tests/browser/.
browser:
	AFM_BOOK_HTML=$(BUILD)/_build/html $(PYTHON) -m pytest tests/browser -q -p no:cacheprovider

nbval: notebooks
	AFM_PROFILE=$(PROFILE) $(PYTHON) -m pytest --nbval-lax -p no:cacheprovider \
	    --nbval-cell-timeout=1800 $(BUILD)/notebooks -q

test: PROFILE := $(or $(AFM_PROFILE),smoke)
test:
	$(MAKE) unit
	$(MAKE) nbval PROFILE=$(PROFILE)
	$(MAKE) html PROFILE=$(PROFILE)
	$(MAKE) browser PROFILE=$(PROFILE)

benchmark:
	$(PYTHON) benchmarks/run.py --chapters

clean:
	rm -rf _build _notebooks
