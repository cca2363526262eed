#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: system packages (redis-server, clickhouse-server),
# a virtual environment with the project and its test extras, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_debian_packages
ensure_venv test
exec .venv/bin/python -m pytest "$@"
