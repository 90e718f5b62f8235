# homelab-ai: `make synth` and `make test` work on a fresh clone with only Python 3.11+, Node and npm.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist workers: one more than the CPUs, at least 3. Part of the suite waits (pip, sops, the arbiter's and
# the Longhorn jobs' processes), so one extra worker keeps the CPUs busy; more cost start-up and contention (on 2
# cores: 2 workers 68 s, 3 workers 58 s, 4 workers 63 s; bench/README.md).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(3, (os.cpu_count() or 1) + 1))')

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK8S_CHECK_UPGRADE := false
export SOPS_DISABLE_VERSION_CHECK := 1
# Let Python cache compiled modules even where the shell asks it not to: every test worker and every CLI process
# the tests start would otherwise compile homelab_ai and re-run pytest's assertion rewriting of each test module
# from source. The caches go to one git-ignored folder, not into __pycache__/ beside the sources (nor into the
# repo copies the tests make and compare).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/.cache/pycache

.PHONY: synth docs test test-fast venv node lint cdk8s-synth imports clean bench mutate

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(BIN)/.mutate-installed: pyproject.toml $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test,mutate]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(BIN)/.installed

node: node_modules/.installed

## Synthesize the `ai` namespace into dist/ (validated first; dist/ is replaced only on success),
## then regenerate docs/ from the same chart and docs/api.md from the library's code.
synth: venv
	$(BIN)/homelab-ai synth dist
	$(BIN)/homelab-ai docs docs
	$(BIN)/python -m homelab_ai.cli.api_reference docs/api.md

## Regenerate the operator docs in docs/ from the chart (hand-written guides there are kept),
## and the API reference docs/api.md from the code.
docs: venv
	$(BIN)/homelab-ai docs docs
	$(BIN)/python -m homelab_ai.cli.api_reference docs/api.md

## Every test: lint, unit, snapshot, schema, checkov, and the end-to-end processes (the CLI, sops,
## the cdk8s CLI), in parallel on every core (pytest-xdist). Run it before you commit or merge.
test: venv node
	$(BIN)/ruff check homelab_ai apps tests examples bench
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## The unit tier for the edit loop: each construct, validator, rule and in-pod program on small inputs, in
## process: no test marked `slow` or `e2e` (processes, waiting), `stack` or `spec_chart` (whole stacks, the spec's
## chart: `make test` runs those). One worker per core (it only computes).
test-fast: venv
	$(BIN)/pytest -n auto --dist loadfile -m "not slow and not e2e and not stack and not spec_chart" -q

lint: venv
	$(BIN)/ruff check homelab_ai apps tests examples bench
	$(BIN)/ruff format --check homelab_ai apps tests examples bench

## The same synth through the cdk8s CLI (writes .cdk8s.out/).
cdk8s-synth: venv node
	npx cdk8s synth --no-check-upgrade

## Regenerate the bindings in homelab_ai/_crds/ from the CRDs in crds/ that have one (offline). The
## prometheus-operator, Gateway API and cert-manager CRDs are schemas for the tests only: those
## objects are plain ApiObjects.
BINDING_CRDS := crds/flux-helmrelease.yaml crds/flux-kustomization.yaml crds/longhorn-recurringjob.yaml
imports: node
	rm -rf homelab_ai/_crds/io
	for crd in $(BINDING_CRDS); do npx cdk8s import "$$crd" --language python --output homelab_ai/_crds --no-check-upgrade; done

clean:
	rm -rf $(VENV) node_modules .cdk8s.out

## Synth speed and memory against raw cdk8s-plus, and scaling to 100 GPU apps (bench/README.md).
bench: venv node
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Mutation testing (mutmut) of the safety-critical modules with focused tests: the score per module
## and the surviving mutants (bench/mutation.toml, results in bench/README.md). Not part of `make test`.
mutate: $(BIN)/.mutate-installed
	$(BIN)/python -m bench.mutate $(MUTATE_ARGS)
