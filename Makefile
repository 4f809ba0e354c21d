# Two commands on a fresh machine (Python 3.11 and make):  make book   and   make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Trained models are cached here, shared by the book build and the tests (see course_utils.cnn.zoo).
export COURSE_UTILS_CACHE ?= $(CURDIR)/.zoo-cache
export PYDEVD_DISABLE_FILE_VALIDATION = 1
# Python keeps each module it compiles in __pycache__, unless PYTHONDONTWRITEBYTECODE is set (as
# in many container images). The packages are installed uncompiled (--no-compile below), and every
# test process, kernel and build imports torch, scipy and matplotlib: without the cache each of
# them would compile them again, about 10 s of CPU a process, minutes over a test run.
unexport PYTHONDONTWRITEBYTECODE
# Two recipes at a time: on a fresh machine pip, npm and apt install side by side (each mostly
# waits for the disk or the network), and nothing here needs more than one at once.
MAKEFLAGS += --jobs=2

.PHONY: book test check env clean browser-deps bench

env: $(VENV)/.installed

# uv installs the pins: the same wheels as pip, unpacked in parallel and hard-linked from its
# cache. torch and its CUDA libraries are 5 GB: on a fresh machine pip took 53 s to install
# requirements.txt, uv 15 s (28 s where it must copy). uv does not read pip's configuration, so
# the package indexes this machine's pip is set to use (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL or
# pip.conf; none on most machines) are handed to it. unsafe-best-match: every pin is exact, so
# "best" is the pinned version, from whichever index has it.
UV_VERSION := 0.13.9
PIP_SETTING = $${PIP_$(1):-$$($(BIN)/python -m pip config get global.$(2) 2>/dev/null)}
PIP_INDEXES = UV_INDEX_URL="$(call PIP_SETTING,INDEX_URL,index-url)" \
	UV_EXTRA_INDEX_URL="$(call PIP_SETTING,EXTRA_INDEX_URL,extra-index-url)"
UV_INSTALL = $(PIP_INDEXES) $(BIN)/uv pip install --python $(BIN)/python --quiet --index-strategy unsafe-best-match

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	# --no-compile: Python compiles a module when it is first imported; compiling all of torch's
	# files at install time would cost a fresh machine half a minute for modules never imported.
	# The newest pip: the Colab-like kernels' %pip install uses it (tools/sitetools/colab_like.py).
	$(UV_INSTALL) --no-compile --upgrade-package pip -r requirements.txt pip
	$(UV_INSTALL) --no-deps -e .
	touch $@

book: $(VENV)/.installed js-deps  ## build the whole book, every chapter executed, into _build/html
	$(BIN)/jupyter-book build --all -W --keep-going .

# The student edition: every solution replaced by a placeholder (course_utils.instructor.assign), pages and
# downloadable notebooks included. The pages keep the book's own outputs (_build/jupyter_execute)
# wherever a cell is unchanged, so nothing is executed twice; exercise cells have no output.
# STUDENT_BRANCH=name keeps the Colab button, pointing at that branch, where the instructor
# publishes _student/book; without it the button is left out.
.PHONY: student
student: book  ## the student edition, without solutions, into _student/_build/html
	rm -rf _student
	$(BIN)/python -m course_utils.instructor.assign --book . _student --outputs-from _build/jupyter_execute $(if $(STUDENT_BRANCH),--branch $(STUDENT_BRANCH))
	$(BIN)/jupyter-book build --all -W --keep-going _student

# npm packages: the book's front-end scripts, and axe-core for the browser tests (tests/browser/:
# Debian's chromium driven by the Python playwright package from requirements.txt, no browser
# download). Each step is skipped when already installed, so this is quick to repeat.
BROWSER_DIR := .browser
BROWSER_NPM := mathjax@3.2.2 @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 axe-core@4.11.0
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The book's own front-end scripts (MathJax, require.js, the widget manager, anywidget's front
# end) from npm and the venv into book/_static/offline/ (tools/offline_static.py): no CDN.
.PHONY: js-deps
js-deps: $(VENV)/.installed $(BROWSER_DIR)/.installed
	$(BIN)/python tools/offline_static.py

browser-deps: js-deps chromium  ## headless Chromium + Playwright + offline JS for tests/browser

# Debian's chromium: installed beside the venv (make runs two recipes at once, see MAKEFLAGS).
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# The stamp records the package list: adding a package to BROWSER_NPM installs it on the next run.
$(BROWSER_DIR)/.installed: $(BROWSER_DIR)/.wanted
	mkdir -p $(BROWSER_DIR)
	npm install --prefix $(BROWSER_DIR) --no-audit --no-fund --silent $(BROWSER_NPM)
	touch $@

$(BROWSER_DIR)/.wanted: FORCE
	@mkdir -p $(BROWSER_DIR)
	@echo "$(BROWSER_NPM)" | cmp -s - $@ || echo "$(BROWSER_NPM)" > $@

.PHONY: FORCE
FORCE:

bench: $(VENV)/.installed  ## speed figures of benchmarks/bench_*.py; prints a table, keeps it in benchmarks/README.md
	$(BIN)/python benchmarks/run.py

# Two lanes side by side, one per core (tools/run_tests.py): the book builds, and the rest.
test: $(VENV)/.installed browser-deps  ## the whole test suite, including a full book build
	$(BIN)/python tools/run_tests.py

# The contributors' fast lane: unit tests and notebook-free checks, on both cores (pytest-xdist).
# Left out: the browser tests (they build the whole book) and tests marked slow.
check: $(VENV)/.installed  ## unit tests only, about a minute once models are cached
	$(BIN)/python -m pytest -q -n 2 -m "not slow" --ignore=tests/browser

clean:
	rm -rf _build .zoo-cache .pytest_cache
