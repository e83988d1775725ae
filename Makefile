# Two commands matter: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: demo test crash fuzz bench package deploy-check clean

$(STAMP): pyproject.toml constraints/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints/dev.txt -e '.[dev]'
	touch $(STAMP)

# Deployment tooling (serverless CLI + Scaleway plugin), exact versions from package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

demo: $(STAMP)
	$(PY) -m sandbox.demo

test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest

# The copy SIGKILLed at every chosen point of a 1 GiB copy, each in a fresh copy of its own, and at
# CRASH_POINTS random points in chains of CRASH_CHAIN, each kill redelivered (make test: 256 MiB,
# 32 random points, all in chains). CRASH_SEED=N replays a run's random points (it prints its seed).
CRASH_SIZE_MIB ?= 1024
CRASH_POINTS ?= 200
CRASH_CHAIN ?= 25
crash: $(STAMP)
	CRASH_MODE=each CRASH_SIZE_MIB=$(CRASH_SIZE_MIB) CRASH_POINTS=$(CRASH_POINTS) CRASH_CHAIN=$(CRASH_CHAIN) \
		$(PY) -m pytest -v tests/integration/test_copy_crash.py

# Hostile requests at full strength: 10,000 per route (the default run tries 300), minutes not seconds.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/security/test_fuzz.py --timeout=3600

# Benchmarks print figures (never part of `make test`). BENCH_SIZES=1GiB,8GiB for the full copy
# table (8 GiB: about 20 minutes), BENCH_RUNS runs per figure (medians). scripts/bench_tools.sh
# installs the other copy tools (the aws CLI into .venv-bench, rclone from Debian) when it can.
# The Slack benchmark's "-": a missed target is printed (MISSED, exit 1) and the copy figures still follow.
BENCH_SIZES ?= 1GiB
BENCH_RUNS ?= 3
bench: $(STAMP)
	scripts/bench_tools.sh
	$(PY) tests/benchmarks/bench_coldstart.py --runs $(BENCH_RUNS)
	$(PY) tests/benchmarks/bench_dispatch.py --databases 1000
	-$(PY) tests/benchmarks/bench_slack.py --databases 1000 --runs $(BENCH_RUNS)
	$(PY) tests/benchmarks/bench_copy.py --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS)

# Runtime dependencies as musllinux wheels into package/ (shipped in the zip).
package: $(STAMP)
	$(PY) scripts/package_runtime.py

# serverless print/package and the plugin's deploy-time validation, all offline.
deploy-check: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/deploy

clean:
	rm -rf $(VENV) .venv-bench package .serverless .pytest_cache node_modules
