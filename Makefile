# Two commands: `make demo` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

# The shared corpora sit beside the checkout on CI and developer machines.
ifneq ($(wildcard ../shared/corpora),)
export TAGWATCH_CORPORA_DIR ?= $(abspath ../shared/corpora)
endif

.PHONY: demo test bench soak bench-scale bench-outside airflow airflow-setup airflow-cluster airflow-stop clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Test and benchmark tools on top (requirements-test.txt includes requirements.txt).
$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt -c constraints.txt
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/tagwatch demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q --durations=25

bench: $(TEST_STAMP)
	$(BIN)/python bench/bench_loader.py
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_match.py
	$(BIN)/python bench/bench_collect.py
	$(BIN)/python bench/bench_scale.py --sizes 20000,200000 --increment 10000

# The day's work on a 100,000- and a 10,000,000-post warehouse (about half an hour, 4 GB disk).
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py --sizes 100000,10000000 --increment 100000

# The scale check as an outsider runs it: warehouses of 100,000 and 2,000,000 posts built through
# `tagwatch import` of Zeeschuimer exports, then the day's work as tagwatch commands (about an
# hour on a busy two-core machine, 3 GB disk). BENCH_OUTSIDE_SIZES changes the sizes.
BENCH_OUTSIDE_SIZES ?= 100000,2000000
bench-outside: $(TEST_STAMP)
	nice -n 10 $(BIN)/python bench/bench_outside.py --sizes $(BENCH_OUTSIDE_SIZES) --increment 10000

# The loader, the review app and re-checks together (SOAK_MINUTES, default 10): prints errors
# shown to reviewers and decisions lost (both must be 0).
SOAK_MINUTES ?= 10
soak: $(STAMP)
	SOAK_MINUTES=$(SOAK_MINUTES) $(BIN)/python bench/soak.py

# Airflow on this machine (scheduler, API server, UI on http://127.0.0.1:8080).
airflow-setup: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/data/airflow AIRFLOW_CONFIG=$(CURDIR)/airflow.cfg \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags $(BIN)/airflow db migrate
	# The warehouse pool and one pool per platform (slots from collectors/platforms.py).
	AIRFLOW_HOME=$(CURDIR)/data/airflow AIRFLOW_CONFIG=$(CURDIR)/airflow.cfg \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags $(BIN)/tagwatch airflow pools --set

# `airflow standalone` starts its parts as `airflow` from PATH: the venv's must come first.
airflow: airflow-setup
	PATH=$(CURDIR)/$(BIN):$$PATH \
	AIRFLOW_HOME=$(CURDIR)/data/airflow AIRFLOW_CONFIG=$(CURDIR)/airflow.cfg \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags $(BIN)/airflow standalone

# Production-shaped: PostgreSQL metadata DB, CeleryExecutor on Redis, every part its own
# process and two Celery workers (tagwatch/airflow_cluster.py). UI on http://127.0.0.1:8080.
airflow-cluster: $(STAMP)
	$(BIN)/python -m tagwatch.airflow_cluster start

airflow-stop:
	$(BIN)/python -m tagwatch.airflow_cluster stop

clean:
	rm -rf $(VENV) data .pytest_cache
