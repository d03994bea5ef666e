#!/usr/bin/env bash
# Install everything the test suite needs (into .venv) and run lint, types and the whole suite.
# Safe to re-run: each install step is skipped when already done.
#
# The installs that do not touch .venv (Azurite, checkov, Graphviz and Chromium) run beside the
# .venv install, and the Databricks tests (a venv of their own) beside lint, types and docs. Each
# step's output is printed when it ends. GLACIER_TEST_WORKERS=N runs the suite on N pytest-xdist
# workers, for machines with cores to spare: on two cores the suite is CPU-bound (two workers
# measured 8% faster, and slow enough under load for an example's 180 s limit), so one is default.
set -euo pipefail
cd "$(dirname "$0")/.."

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
declare -A started=()

# start NAME CMD...: run CMD in the background, its output kept in a log
start() {
    local name=$1
    shift
    "$@" >"$logs/$name.log" 2>&1 &
    started[$name]=$!
}

# finish NAME: wait for it, print its output, fail as it failed
finish() {
    local name=$1 status=0
    wait "${started[$name]}" || status=$?
    echo "--- $name"
    cat "$logs/$name.log"
    if [ "$status" -ne 0 ]; then
        echo "scripts/test.sh: $name failed (exit $status)" >&2
        exit "$status"
    fi
}

python=${PYTHON:-python3}
start servers bash scripts/install-test-servers.sh   # Azurite (npm) for the Azure Blob tests
start checkov bash scripts/install-checkov.sh        # checkov in its own venv: it pins a conflicting hcl2
start browser bash scripts/install-browser-tools.sh  # Graphviz and Chromium (apt) for the picture tests
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
finish servers
finish checkov
finish browser

start databricks bash scripts/test-databricks.sh  # databricks-connect needs an environment of its own
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/mypy
PYTHONPATH=src .venv/bin/lint-imports   # the layer contract in pyproject.toml
bash scripts/build-docs.sh             # the docs site, --strict: a broken reference fails
finish databricks

# CI runs the network tests too (wheels for Lambda's platform from PyPI); a plain `pytest`
# deselects them (addopts in pyproject.toml)
workers=()
[ -z "${GLACIER_TEST_WORKERS:-}" ] || workers=(-n "$GLACIER_TEST_WORKERS")
.venv/bin/python -m pytest -m "network or not network" "${workers[@]}" "$@"
