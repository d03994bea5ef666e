#!/usr/bin/env bash
# Install everything the test suite needs (into .venv) and run lint, types and the whole suite.
# Safe to re-run: each install step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
bash scripts/install-test-servers.sh   # Azurite (npm) for the Azure Blob tests
bash scripts/install-checkov.sh        # checkov in its own venv: it pins a conflicting hcl2

.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/mypy
PYTHONPATH=src .venv/bin/lint-imports   # the layer contract in pyproject.toml

bash scripts/test-databricks.sh        # databricks-connect needs an environment of its own
# CI runs the network tests too (wheels for Lambda's platform from PyPI); a plain `pytest`
# deselects them (addopts in pyproject.toml)
.venv/bin/python -m pytest -m "network or not network" "$@"
