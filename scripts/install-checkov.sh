#!/usr/bin/env bash
# Install checkov into its own virtualenv (.cache/checkov-venv by default).
# Checkov depends on bc-python-hcl2, which installs a package also named `hcl2` and clashes with
# python-hcl2 (used by the tests to parse the generated HCL), so the two must not share a venv.
# The tests find checkov through $GLACIER_CHECKOV or this venv.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.cache/checkov-venv}"
version="${CHECKOV_VERSION:-3.3.30}"
if [[ -x "$venv/bin/checkov" ]] && [[ "$("$venv/bin/checkov" --version 2>/dev/null)" == "$version" ]]; then
    echo "checkov $version already installed: $venv/bin/checkov"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version"
"$venv/bin/checkov" --version
echo "checkov installed: $venv/bin/checkov"
