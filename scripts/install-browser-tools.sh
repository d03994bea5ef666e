#!/usr/bin/env bash
# Install the Debian tools the picture tests use: Graphviz (`dot`, which renders
# `glacier graph --out graph.svg` and lays out the DOT the tests check) and Chromium (which
# renders `glacier report --html` headless, so the tests assert on the DOM a browser builds).
#
# Idempotent: a no-op when both commands are on PATH. Installing needs root and apt (CI has
# both); elsewhere it says what to install, and the tests that need a missing tool skip.
set -euo pipefail

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-browser-tools: graphviz and chromium already installed"
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser-tools: not root with apt-get: install ${missing[*]} yourself" \
        "(Debian: apt-get install ${missing[*]}); until then the tests that need them skip" >&2
    exit 0
fi
echo "install-browser-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
dot -V
chromium --version 2>/dev/null
