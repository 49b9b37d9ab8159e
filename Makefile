# Two commands do everything on a fresh machine:
#   make run    create .venv, install (with the map assets `plan --offline` inlines), plan the
#               bundled week, write out/
#   make test   the same set-up plus the browser and map assets, then ruff and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := assets/node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint browser bench clean

run: $(STAMP) $(NPM_STAMP)
	$(BIN)/outreach-routes plan --out out

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python ortools
	$(BIN)/python benchmarks/plan_city.py
	$(BIN)/python benchmarks/plan_city.py --night
	$(BIN)/python benchmarks/graph_build.py
	$(BIN)/python benchmarks/where_queries.py
	$(BIN)/python benchmarks/cli_start.py
	$(BIN)/python benchmarks/corners.py
	$(BIN)/python benchmarks/top_chao.py ../shared/benchmarks/top/chao \
		--best-known ../shared/benchmarks/top/best_known.csv --time-limit 2 --vs-ortools

# Locked versions (requirements.lock, from `uv pip compile pyproject.toml --extra dev`).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "outreach-routes needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	# Bytecode for the libraries and the package, as pip would write (uv does not, and this
	# machine sets PYTHONDONTWRITEBYTECODE): commands start sooner (benchmarks/cli_start.py), and
	# the service's first request is not a tenth of a second slower than the rest.
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q src
	# The solver's compiled code, into Numba's cache beside the source (about 15 s, once), so
	# the first plan does not compile it in every routing process.
	$(BIN)/python -c 'from outreach_routes._teamweek import _warm_up; _warm_up()'
	touch $@

# Browser tests: Debian's Chromium, and npm copies of the map's JavaScript and CSS (the same
# copies `outreach-routes plan --offline` inlines into its maps).
browser: $(NPM_STAMP) $(CHROMIUM)

$(NPM_STAMP): assets/package.json assets/package-lock.json
	cd assets && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) out assets/node_modules
