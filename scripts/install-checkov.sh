#!/usr/bin/env bash
# Install checkov into its own virtualenv (.cache/checkov-venv by default).
# Checkov depends on bc-python-hcl2, which installs a package also named `hcl2` and clashes with
# python-hcl2 (used by the tests to parse the generated HCL), so the two must not share a venv.
# The tests find checkov through $GLACIER_CHECKOV or this venv.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.cache/checkov-venv}"
version="${CHECKOV_VERSION:-3.3.30}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "checkov==$version"
"$venv/bin/checkov" --version
echo "checkov installed: $venv/bin/checkov"
