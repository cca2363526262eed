#!/usr/bin/env bash
# Runs Vigil on a local default: private redis-server and clickhouse-server on free loopback ports
# (Debian packages installed when missing and we are root; otherwise their names are printed) and the demo web API
# (devenv.webapp), then `vigil serve` on examples/local.yaml. Ctrl-C stops Vigil and all three. VIGIL_PORT (default 8080) picks Vigil's port.
# With --redis-cluster: a private Redis Cluster instead (3 primaries, 3 replicas) and `vigil serve` on examples/cluster.yaml.
# With --clickhouse-replicas it runs a replicated ClickHouse instead (devenv.chreplicas: ZooKeeper, shard 1 on two
# replicas, shard 2 on one host, cluster `vigil`, a replicated demo.events table) probed by
# examples/clickhouse-replicated.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

replicas=0
cluster=0
for arg in "$@"; do
    case "$arg" in
        --clickhouse-replicas) replicas=1 ;;
        --redis-cluster) cluster=1 ;;
        *) echo "usage: $0 [--redis-cluster | --clickhouse-replicas]" >&2; exit 2 ;;
    esac
done
if [ "$replicas" = 1 ] && [ "$cluster" = 1 ]; then
    echo "usage: $0 [--redis-cluster | --clickhouse-replicas] (one at a time)" >&2
    exit 2
fi

run_dir="${VIGIL_RUN_DIR:-$PWD/.run}"
port="${VIGIL_PORT:-8080}"

if [ "$replicas" = 1 ]; then
    ensure_debian_packages replicas
    ensure_venv
    mkdir -p "$run_dir"
    : > "$run_dir/replicas.env"
    .venv/bin/python -m devenv.chreplicas "$run_dir/replicas" > "$run_dir/replicas.env" &
    replicas_pid=$!
    trap 'kill "$replicas_pid" 2>/dev/null || true; wait "$replicas_pid" 2>/dev/null || true' EXIT INT TERM
    for _ in $(seq 1 1200); do
        if [ -s "$run_dir/replicas.env" ]; then break; fi
        if ! kill -0 "$replicas_pid" 2>/dev/null; then echo "could not start ZooKeeper and ClickHouse" >&2; exit 1; fi
        sleep 0.1
    done
    # shellcheck disable=SC1091
    source "$run_dir/replicas.env"   # ZOOKEEPER_PORT, CLICKHOUSE_R1_PORT, CLICKHOUSE_R2_PORT, CLICKHOUSE_S2_PORT
    export VIGIL_COMPONENTS__REPLICA_1__PORT="$CLICKHOUSE_R1_PORT"
    export VIGIL_COMPONENTS__REPLICA_2__PORT="$CLICKHOUSE_R2_PORT"
    export VIGIL_COMPONENTS__SHARD_2__PORT="$CLICKHOUSE_S2_PORT"
    base="http://127.0.0.1:${port}"
    cat <<INFO
zookeeper         127.0.0.1:${ZOOKEEPER_PORT}
clickhouse        shard 1: 127.0.0.1:${CLICKHOUSE_R1_PORT} (r1), 127.0.0.1:${CLICKHOUSE_R2_PORT} (r2); shard 2: 127.0.0.1:${CLICKHOUSE_S2_PORT}
Vigil             ${base}
  ${base}/readyz?verbose    readiness, one line per check
  ${base}/health            health+json
INFO
    .venv/bin/vigil serve --config examples/clickhouse-replicated.yaml --host 127.0.0.1 --port "$port"
    exit $?
fi

ensure_debian_packages
ensure_venv   # requirements-dev.lock: also websockets, uvicorn's WebSocket support for the demo web API
rm -rf "$run_dir/servers"
mkdir -p "$run_dir"
: > "$run_dir/servers.env"

pids=()
stop_all() {
    if [ ${#pids[@]} -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap stop_all EXIT INT TERM

if [ "$cluster" = 1 ]; then
    rm -rf "$run_dir/cluster"
    : > "$run_dir/cluster.env"
    .venv/bin/python -m devenv.rediscluster "$run_dir/cluster" > "$run_dir/cluster.env" &
    cluster_pid=$!
    pids+=("$cluster_pid")
    for _ in $(seq 1 600); do
        if [ -s "$run_dir/cluster.env" ]; then break; fi
        if ! kill -0 "$cluster_pid" 2>/dev/null; then echo "could not start the redis cluster" >&2; exit 1; fi
        sleep 0.1
    done
    # shellcheck disable=SC1091
    source "$run_dir/cluster.env"   # REDIS_CLUSTER_SEEDS: host:port,host:port,...
    seeds_json="[\"${REDIS_CLUSTER_SEEDS//,/\",\"}\"]"
    export VIGIL_COMPONENTS__CACHE__CLUSTER="{\"seeds\": ${seeds_json}, \"max_nodes\": 16}"
    echo "redis cluster seeds ${REDIS_CLUSTER_SEEDS}; Vigil http://127.0.0.1:${port}/readyz?verbose"
    .venv/bin/vigil serve --config examples/cluster.yaml --host 127.0.0.1 --port "$port" &
    pids+=("$!")
    wait "$!"
    exit
fi

.venv/bin/python -m devenv.servers "$run_dir/servers" > "$run_dir/servers.env" &
servers_pid=$!
pids+=("$servers_pid")

# The demo web API, with a throwaway signing key and client secret made for this run (Vigil reads the same files).
: > "$run_dir/demo-api.env"
(umask 077
 .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$run_dir/demo-api.key"
 .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' > "$run_dir/demo-api.secret")
.venv/bin/python -m devenv.webapp --port 0 --signing-key-file "$run_dir/demo-api.key" \
    --client-secret-file "$run_dir/demo-api.secret" > "$run_dir/demo-api.env" &
api_pid=$!
pids+=("$api_pid")

for _ in $(seq 1 600); do
    if [ -s "$run_dir/servers.env" ]; then break; fi
    if ! kill -0 "$servers_pid" 2>/dev/null; then echo "could not start redis/clickhouse" >&2; exit 1; fi
    sleep 0.1
done
# shellcheck disable=SC1091
source "$run_dir/servers.env"   # REDIS_PORT, CLICKHOUSE_PORT, CLICKHOUSE_HTTP_PORT
for _ in $(seq 1 100); do
    if [ -s "$run_dir/demo-api.env" ]; then break; fi
    if ! kill -0 "$api_pid" 2>/dev/null; then echo "could not start the demo web API" >&2; exit 1; fi
    sleep 0.1
done
# shellcheck disable=SC1091
source "$run_dir/demo-api.env"  # DEMO_API_PORT (listening already)

# The example config names the components; the environment points them at the private servers.
export VIGIL_COMPONENTS__CACHE__URL="redis://127.0.0.1:${REDIS_PORT}/0"
export VIGIL_COMPONENTS__ANALYTICS__PORT="${CLICKHOUSE_PORT}"
export VIGIL_COMPONENTS__CLICKHOUSE_HTTP__URL="http://127.0.0.1:${CLICKHOUSE_HTTP_PORT}/"
export VIGIL_COMPONENTS__API__URL="http://127.0.0.1:${DEMO_API_PORT}/"
# Values for fields inside a check are read as JSON, hence the quotes.
export VIGIL_COMPONENTS__API__CHECKS__AUTH__TOKEN__CLIENT_SECRET_FILE="\"$run_dir/demo-api.secret\""
export VIGIL_COMPONENTS__API__CHECKS__AUTH__SIGNING_KEY_FILE="\"$run_dir/demo-api.key\""
# A throwaway signing key for the run endpoints; mint a token with scripts/token.sh.
export VIGIL_AUTH__KEY="${VIGIL_AUTH__KEY:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}"
printf '%s' "$VIGIL_AUTH__KEY" > "$run_dir/jwt.key"; chmod 600 "$run_dir/jwt.key"

base="http://127.0.0.1:${port}"
cat <<INFO
redis-server      127.0.0.1:${REDIS_PORT}
clickhouse-server 127.0.0.1:${CLICKHOUSE_PORT} (native), ${CLICKHOUSE_HTTP_PORT} (http)
demo web API      http://127.0.0.1:${DEMO_API_PORT}/ (CORS, /auth/token, /api/me, WebSocket /ws)
Vigil             ${base}
  ${base}/readyz?verbose    readiness, one line per check
  ${base}/health            health+json (details: show_details is 'always' here)
  ${base}/metrics           Prometheus metrics
  ${base}/docs              OpenAPI docs
  curl -X POST -H "Authorization: Bearer \$(bash scripts/token.sh)" ${base}/checks/run
INFO

.venv/bin/vigil serve --config examples/local.yaml --host 127.0.0.1 --port "$port"
