#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: system packages (redis-server, clickhouse-server,
# prometheus, chromium), a virtual environment with the pinned, hashed packages of requirements-dev.lock (runtime,
# test, lint, docs) and the project, then pytest (which also builds the docs site with `mkdocs build --strict`).
# Extra arguments go to pytest and run only pytest. With no arguments (the whole suite, as CI runs it):
#   1. the image is built and run for real first (scripts/image.sh; its log is printed only if it fails;
#      VIGIL_SKIP_IMAGE=1 skips it on a machine without podman support),
#   2. pytest,
#   3. `ruff check`, `ruff format --check` and `mypy --strict`, which print only when they find something.
# Any failing step fails the run; pytest's summary stays the last line of a passing run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_debian_packages test
ensure_venv

status=0
if [ $# -eq 0 ] && [ "${VIGIL_SKIP_IMAGE:-0}" != 1 ]; then
    image_log=$(mktemp)
    started=$SECONDS
    if bash scripts/image.sh > "$image_log" 2>&1; then
        echo "image check passed in $((SECONDS - started))s (scripts/image.sh)"
    else
        echo "image check FAILED (scripts/image.sh):" >&2
        tail -n 60 "$image_log" >&2
        status=1
    fi
    rm -f "$image_log"
fi

.venv/bin/python -m pytest "$@" || status=$?
if [ $# -eq 0 ]; then
    lint_log=$(mktemp)
    for step in "ruff check -q app tests bench devenv" "ruff format -q --check app tests bench devenv" "mypy"; do
        if ! .venv/bin/$step > "$lint_log" 2>&1; then
            echo "lint failed: $step" >&2
            cat "$lint_log" >&2
            status=1
        fi
    done
    rm -f "$lint_log"
fi
exit "$status"
