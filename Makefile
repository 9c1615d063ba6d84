# pdt: every target installs what it needs first, so on a fresh machine
#   make report   regenerates Table 3 and Figs. 3-4
#   make test     runs the test suite (code, data, notebooks)
# are the whole set-up. `make help` lists the targets.

PYTHON      ?= python3
VENV        ?= .venv
CONSTRAINTS ?= constraints.txt
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
# Our venv's kernelspecs come first, so `python3` is this environment's kernel
# even when the user has another `python3` kernel installed.
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter

.DEFAULT_GOAL := help
.PHONY: help install test test-notebooks report study lab bench clean

help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev,bench,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (pdt)" >/dev/null
	@# keep notebook outputs out of git in this clone (a git filter; tags and kernelspec survive it)
	-@git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install --attributes .gitattributes
	touch $@

install: $(STAMP) ## Build .venv/ from pyproject.toml (rebuilt when it or constraints.txt change)

# make report PARAMS=params/iemocap.yaml IEMOCAP_ROOT=/data/IEMOCAP_full_release
# make report CORPUS=manifest MANIFEST=my_corpus.csv [RUN=my-run] [SET="seed=1 max_passes=20000"]
# make report CORPUS=manifest MANIFEST=emodb.csv TEST_MANIFEST=ravdess.csv SET="baseline_durations=[4.0]"  (cross-corpus)
# Each value goes to the shell in single quotes (quote, below), so paths may hold spaces; relative
# paths are made absolute by pdtlib.report.params.load, against this folder.
PARAMS ?= params/default.yaml
quote = '$(subst ','\'',$(1))'
REPORT_ARGS = --params $(call quote,$(PARAMS)) $(if $(RUN),--set $(call quote,run=$(RUN))) \
	$(if $(CORPUS),--set $(call quote,corpus=$(CORPUS))) \
	$(if $(IEMOCAP_ROOT),--set $(call quote,iemocap_root=$(IEMOCAP_ROOT))) \
	$(if $(MANIFEST),--set $(call quote,manifest=$(MANIFEST))) \
	$(if $(TEST_MANIFEST),--set $(call quote,test_manifest=$(TEST_MANIFEST))) $(foreach kv,$(SET),--set $(call quote,$(kv)))
NBVAL_DIR := build/nbval

test: $(STAMP) ## Run the tests: code and data (pytest), then the notebooks under nbval (smoke size)
	$(BIN)/python -m pytest tests
	$(MAKE) --no-print-directory test-notebooks

test-notebooks: $(STAMP) ## Run the numbered notebooks under nbval on papermill-prepared smoke copies
	rm -rf $(NBVAL_DIR)
	$(BIN)/python -m pdtlib.report --params params/smoke.yaml --prepare-only $(NBVAL_DIR) >/dev/null
	PDT_PROGRESS=0 PDT_DATA=$(abspath $(NBVAL_DIR))/data PDT_CACHE=$(abspath $(NBVAL_DIR))/cache \
	PDT_REPORTS=$(abspath $(NBVAL_DIR))/reports $(BIN)/python -m pytest -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-kernel-startup-timeout=120 \
		$(NBVAL_DIR)/*.ipynb

report: $(STAMP) ## Regenerate Table 3 and Figs. 3-4 into reports/<run>/ (PARAMS, CORPUS, IEMOCAP_ROOT, MANIFEST, TEST_MANIFEST, RUN, SET)
	$(BIN)/python -m pdtlib.report $(REPORT_ARGS)

# make study [STUDY=params/study-iemocap.yaml IEMOCAP_ROOT=/data/IEMOCAP_full_release] [SET="key=value ..."]
# RAY_ADDRESS=... (or a running `ray start --head` on this node) sends the cells to a Ray cluster
STUDY ?= params/study-default.yaml

STUDY_ARGS = $(call quote,$(STUDY)) $(if $(IEMOCAP_ROOT),--set $(call quote,iemocap_root=$(IEMOCAP_ROOT))) \
	$(if $(MANIFEST),--set $(call quote,manifest=$(MANIFEST))) \
	$(if $(TEST_MANIFEST),--set $(call quote,test_manifest=$(TEST_MANIFEST))) $(foreach kv,$(SET),--set $(call quote,$(kv)))

study: $(STAMP) ## Run a study (seeds x folds of reports, on Ray) and its table with intervals (STUDY, IEMOCAP_ROOT, MANIFEST, TEST_MANIFEST, SET)
	$(BIN)/python -m pdtlib.study $(STUDY_ARGS)

lab: $(STAMP) ## Start JupyterLab in the project's environment (kernel python3)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

bench: $(STAMP) ## Run the benchmarks in benchmarks/ and print their figures
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove the environment, caches and generated data (keeps committed reports)
	rm -rf $(VENV) .cache data .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
