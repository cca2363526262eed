#!/usr/bin/env bash
# Rewrites the two hashed lock files from pyproject.toml:
#   requirements.lock      what Vigil needs to run (the Dockerfile installs exactly this)
#   requirements-dev.lock  the same pins plus the test, lint, docs and demo extras (scripts/test.sh installs this)
# Run it after changing a dependency in pyproject.toml, or with --upgrade to move every pin to the newest release
# (then run the whole suite: bash scripts/test.sh). Needs uv (pip install uv); resolves for Python 3.11 on any
# platform, so the same file serves a laptop, CI and the image.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_uv
common=(--universal --python-version 3.11 --generate-hashes --custom-compile-command "bash scripts/lock.sh" "$@")
"$UV" pip compile -q pyproject.toml "${common[@]}" -o requirements.lock
# The dev lock is constrained by the runtime lock: tests run against the very versions the image holds.
"$UV" pip compile -q pyproject.toml --extra test --extra lint --extra docs --extra demo \
    --constraint requirements.lock "${common[@]}" -o requirements-dev.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) packages)" \
    "and requirements-dev.lock ($(grep -c '==' requirements-dev.lock) packages)"
