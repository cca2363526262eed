#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: system packages (redis-server, clickhouse-server),
# a virtual environment with the project and its test and lint extras, then pytest. Extra arguments go to pytest.
# With no arguments (the whole suite, as CI runs it), `ruff check`, `ruff format --check` and `mypy --strict`
# run after the tests and fail the run too; they print only when they find something.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_debian_packages
ensure_venv test,lint

status=0
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
