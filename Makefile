include tools.mk

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
OPA := $(TOOLS)/opa
CONFTEST := $(TOOLS)/conftest
REGISTRY := $(TOOLS)/registry
export SOC2OPA_OPA := $(OPA)
export PATH := $(TOOLS):$(PATH)

.PHONY: setup chromium demo test lint rego-check build check-generated plans plans-check schema schema-check bench bench-smoke compare-checkov clean goldens

setup: $(BIN)/soc2opa $(OPA) $(CONFTEST) $(REGISTRY) chromium

# The HTML evidence report is tested in headless Chromium (Debian's package); installed here when
# this is a Debian machine and we are root, else named so that the failing test is no surprise.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else echo "make: Chromium is missing; install it (apt-get install chromium) for the HTML report test"; fi

$(BIN)/soc2opa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q soc2opa
	touch $@

$(OPA): tools.mk
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/open-policy-agent/opa@$(OPA_VERSION)
	$(OPA) version | grep -q 'Version: $(OPA_VERSION:v%=%)' && touch $@

$(CONFTEST): tools.mk
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/open-policy-agent/conftest@$(CONFTEST_VERSION)
	touch $@

$(REGISTRY): tools.mk
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/google/go-containerregistry/cmd/registry@$(REGISTRY_VERSION)
	touch $@

# The demo plan is meant to fail the gate: exit 1 is the expected outcome, not a make error.
demo: setup
	@$(BIN)/soc2opa eval examples/demo/plan.json; code=$$?; \
	if [ $$code -eq 1 ]; then echo "make demo: the demo plan fails the SOC 2 gate (exit 1), as intended: the findings above are what a pull request would be blocked on."; \
	else exit $$code; fi

build: setup
	$(BIN)/soc2opa build

plans: setup
	$(BIN)/soc2opa plans

plans-check: setup
	$(BIN)/soc2opa plans --check

# The trimmed AWS provider schema the catalog's paths are checked against (needs Terraform and
# the provider in the plugin mirror, TF_PLUGIN_DIR, default /opt/tf-plugins).
schema: setup
	$(BIN)/python -m generator.provider_schema

schema-check: setup
	$(BIN)/python -m generator.provider_schema --check

check-generated: setup
	$(BIN)/soc2opa build --check

rego-check: setup
	$(OPA) fmt --fail --list rego controls
	$(OPA) check --strict rego
	$(OPA) check --strict --ignore '*.yaml' controls rego/lib
	$(OPA) test --ignore '*.yaml' controls rego/lib
	$(BIN)/python scripts/rego_coverage.py --min 90

lint: setup
	$(BIN)/ruff check soc2opa generator tests scripts benchmarks
	$(BIN)/ruff format --check soc2opa generator tests scripts benchmarks
	$(BIN)/mypy soc2opa generator benchmarks

# pytest spreads the tests over the machine's cores (at most 4): most of them wait on opa.
test: setup check-generated rego-check lint
	$(BIN)/pytest -q -n auto --maxprocesses 4

# The golden reports tests/test_report_equivalence.py compares with (see docs/rego-performance.md);
# rewrite them after an intended change of verdicts, e.g. a new or changed control.
goldens: setup
	$(BIN)/python scripts/report_goldens.py --write

# The full benchmark (docs/benchmark.md and .png; about 15 min with 3 runs on 2 quiet cores;
# Checkov goes into .bench/checkov-venv on first use). BENCH_ARGS="--runs 5" etc. to vary it.
bench: setup
	$(BIN)/python scripts/bench.py --write $(BENCH_ARGS)

# Tiny sizes, one run, no Checkov, into a temporary folder: checks the bench still works
# (tests/test_bench_smoke.py runs the same under make test).
bench-smoke: setup
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	$(BIN)/python scripts/bench.py --smoke --out "$$out" --plans "$$out/plans" > /dev/null && \
	echo "make bench-smoke: the benchmark ran end to end"

# soc2opa against expected verdicts and Checkov on plans from public HCL (docs/checkov-comparison.md).
# Re-runs Checkov and stores its results when it is installed; otherwise uses the stored ones.
CHECKOV ?= $(shell command -v checkov 2>/dev/null)
compare-checkov: setup
	$(BIN)/python scripts/compare_checkov.py $(if $(CHECKOV),--run-checkov $(CHECKOV))

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
