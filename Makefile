# Active Forgetting, the runnable book.
#   make book       install what is needed, execute every chapter, build the HTML book
#   make test       unit tests, every chapter executed as a test (nbval), the HTML build
#   make benchmark  timings of benchmarks/ (not a test)
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

.PHONY: help install book html notebooks test unit nbval benchmark clean

help:
	@sed -n '2,6p' Makefile

install:
	$(PIP) install -e ".[book,test]"

# Each profile gets its own build folder and its own Jupyter cache, so smoke outputs never
# stand in for the book's. afm's own result cache (AFM_CACHE_DIR) is keyed on its source.
$(BUILD)/_config.yml: _config.yml
	@mkdir -p $(BUILD)
	sed 's#_build/.jupyter_cache#$(BUILD)/.jupyter_cache#' _config.yml > $@

html: $(BUILD)/_config.yml
	AFM_PROFILE=$(PROFILE) jupyter-book build . --config $(BUILD)/_config.yml \
	    --path-output $(BUILD) $(JB_FLAGS)
	@echo "The book is at $(BUILD)/_build/html/index.html"

book: install
	$(MAKE) html

notebooks:
	$(PYTHON) -m afm.book notebooks $(BUILD)/notebooks

unit:
	$(PYTHON) -m pytest tests -q

nbval: notebooks
	AFM_PROFILE=$(PROFILE) $(PYTHON) -m pytest --nbval-lax -p no:cacheprovider \
	    --nbval-cell-timeout=1800 $(BUILD)/notebooks -q

test: PROFILE := $(or $(AFM_PROFILE),smoke)
test:
	$(MAKE) unit
	$(MAKE) nbval PROFILE=$(PROFILE)
	$(MAKE) html PROFILE=$(PROFILE)

benchmark:
	$(PYTHON) benchmarks/run.py --chapters

clean:
	rm -rf _build _notebooks
