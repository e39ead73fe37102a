# The two commands a newcomer needs: `make demo` (portal + Proxmox simulator + demo data on SQLite)
# and `make test` (the whole suite; on PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx
HAPROXY := /usr/sbin/haproxy

.PHONY: setup demo cluster test lint browser bench package-check

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium (Playwright drives it; it cannot download its own), nginx (the README's proxy example is
# tested) and HAProxy (the cluster tests' balancer) for the end-to-end tests; installed as root with apt-get when
# missing.
browser:
	@test -x $(CHROMIUM) -a -x $(NGINX) -a -x $(HAPROXY) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light haproxy >/dev/null; }

demo: setup
	$(PY) manage.py demo

# The optional third command: the demo as two web processes, two Celery workers and beat behind HAProxy (installed
# as root with apt-get when missing), on this machine's PostgreSQL and Redis (README, "Several processes").
CLUSTER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/nexus_cluster
CLUSTER_REDIS_URL ?= redis://127.0.0.1:6379/3
cluster: setup
	@test -x $(HAPROXY) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }
	DATABASE_URL=$${DATABASE_URL:-$(CLUSTER_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(CLUSTER_REDIS_URL)} $(PY) manage.py cluster

# Style and layers first (seconds), then the suite.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: lint browser
	$(PY) -m pytest

# burst.py and cluster.py run production web processes on PostgreSQL and Redis: a database of their own, emptied.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/nexus_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/9
bench: setup
	$(PY) bench/fanout.py
	$(PY) bench/guests.py
	$(PY) bench/relay.py
	$(PY) bench/import.py
	$(PY) bench/health.py
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/burst.py
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/cluster.py

# The installed package, started from another directory with production settings (CI runs it after the tests).
package-check: setup
	.ci/package-check
