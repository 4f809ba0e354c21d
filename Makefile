# Two commands on a fresh machine (Python 3.11 and make):  make book   and   make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Trained models are cached here, shared by the book build and the tests (see course_utils.zoo).
export COURSE_UTILS_CACHE ?= $(CURDIR)/.zoo-cache
export MPLBACKEND ?= Agg
export PYDEVD_DISABLE_FILE_VALIDATION = 1

.PHONY: book test env clean

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

book: $(VENV)/.installed  ## build the whole book, every chapter executed, into _build/html
	$(BIN)/jupyter-book build --all -W --keep-going .

test: $(VENV)/.installed  ## the whole test suite, including a full book build
	$(BIN)/python -m pytest -q

clean:
	rm -rf _build .zoo-cache .pytest_cache
