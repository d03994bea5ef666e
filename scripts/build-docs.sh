#!/usr/bin/env bash
# Build the docs site (mkdocs.yml) into site/, strictly: a broken link, a reference that resolves
# to nothing or a page left out of the nav fails the build. The tools come with the `docs` extra,
# which the `test` extra includes; `.venv/bin/mkdocs serve` previews the site while editing.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${DOCS_PYTHON:-.venv/bin/python}   # an interpreter with glacier-pipelines[docs]
# The CLI page imports glacier.cli (mkdocs-click); the API pages read src/ without importing it.
PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} NO_MKDOCS_2_WARNING=1 \
    "$python" -m mkdocs build --strict --site-dir "${DOCS_SITE:-site}" "$@"
