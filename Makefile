# Two commands for a new user: `make demo` and `make test`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  := $(BIN)/python

.PHONY: setup sandbox demo test e2e data assign verify bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed sandbox

# bubblewrap: the sandbox of batch grading (Debian package; installed here when we are root)
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the batch grader's sandbox)"; \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "note: bubblewrap is missing; batch grading needs it (sudo apt-get install bubblewrap) or --sandbox basic"; \
	  fi; }

data: setup
	$(PYTHON) data/make_offline_data.py

demo: setup
	bash scripts/demo.sh

# the kit's tests without the end-to-end runs (those: make e2e; CI runs both); one pytest worker per
# core (pytest-xdist), a test file per worker, one torch thread each (tests/conftest.py)
test: setup
	$(PYTHON) -m pytest tests -q -m "not e2e" -n auto --dist loadfile

# whole submissions graded end to end: batch + sandbox + hostile submissions, Gradescope, grader
# errors, verify's full corpus, and the compiled fast path (~35 min on 2 cores)
e2e: setup
	$(PYTHON) -m pytest tests -q -m e2e

COURSE ?= ai604
assign: setup
	$(PYTHON) -m grader assign --course $(COURSE) --out dist/student

verify: setup
	$(PYTHON) -m grader verify --course $(COURSE)

bench: setup
	$(PYTHON) benchmarks/bench_metrics.py
	$(PYTHON) benchmarks/bench_speed.py

clean:
	rm -rf results dist .pytest_cache
