#!/usr/bin/env bash
# The Databricks path, in an environment of its own: databricks-connect bundles its own pyspark
# 3.5 and pins numpy<2, so it cannot share .venv with glacier[spark]. Its client runs a pipeline's
# Spark modes against a Spark Connect server that .venv's pyspark 4 serves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.cache/databricks-venv
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[databricks,aws]" pytest  # obstore: the test tree's fixtures import it

GLACIER_TEST_SPARK_HOME="$(.venv/bin/python -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent)')" \
GLACIER_TEST_SPARK_PYTHON="$PWD/.venv/bin/python" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/spark/test_connect.py -k databricks "$@"
