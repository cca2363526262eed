# Shared by scripts/test.sh and scripts/run-local.sh (sourced, not run).

# The Debian packages Vigil's tests and local default need: the servers it probes and promtool. Installed only when missing, and only as root.
# With "test": also Chromium and its driver, for the status page's browser tests.
ensure_debian_packages() {
    local missing=()
    if [ "${1:-}" = test ]; then
        command -v chromium >/dev/null || missing+=(chromium)
        command -v chromedriver >/dev/null || missing+=(chromium-driver)
    fi
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
    command -v promtool >/dev/null || missing+=(prometheus)   # promtool lints /metrics in the tests
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run as root or: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]} ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packaged services from starting: Vigil runs its own private instances.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$created" = 1 ]; then rm -f "$policy"; fi
}

# A virtual environment in .venv with the pinned, hashed dependencies of $1 (default requirements-dev.lock: runtime,
# test, lint, docs and demo) and the project itself (editable, no dependencies of its own: the lock has them all).
ensure_venv() {
    local lock="${1:-requirements-dev.lock}"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
}

# uv, for scripts/lock.sh: the one on PATH, else one installed into .venv. Sets UV.
ensure_uv() {
    if command -v uv >/dev/null; then UV=uv; return 0; fi
    if [ ! -x .venv/bin/uv ]; then
        [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
        .venv/bin/python -m pip install -q --disable-pip-version-check uv
    fi
    UV=.venv/bin/uv
}
