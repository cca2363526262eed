# Shared by scripts/test.sh and scripts/run-local.sh (sourced, not run).

# The servers Vigil's local default probes, and with "test" what the tests need besides (redis-cli, promtool,
# Alertmanager, Chromium and its driver). Found on the PATH from any distribution; when some are missing, root on Debian installs them, and
# anyone else is told the Debian package names to install, and the script stops.
ensure_debian_packages() {
    local missing=() commands=()
    need() { command -v "$1" >/dev/null || { missing+=("$2"); commands+=("$1"); }; }
    # ZooKeeper puts no command on the PATH: its jar is what devenv.chreplicas runs (with the JRE it depends on).
    need_jar() { [ -e "$1" ] || { missing+=("$2"); commands+=("$1"); }; }
    need redis-server redis-server
    need clickhouse-server clickhouse-server
    if [ "${1:-}" = test ] || [ "${1:-}" = replicas ]; then
        need_jar "${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}" zookeeper   # replicated ClickHouse
    fi
    if [ "${1:-}" = test ]; then
        need redis-cli redis-tools
        need promtool prometheus   # promtool lints /metrics and tests the rules; a real Prometheus scrapes Vigil
        need prometheus-alertmanager prometheus-alertmanager   # the alerting path, and amtool for its example
        need chromium chromium
        need chromedriver chromium-driver
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing: ${commands[*]}" >&2
        echo "install them (Debian/Ubuntu package names): sudo apt-get install -y ${missing[*]}" >&2
        echo "(on another distribution, any package that puts these commands on the PATH will do)" >&2
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
