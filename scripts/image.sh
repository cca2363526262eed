#!/usr/bin/env bash
# Builds Vigil's image with podman from a local Debian base (no registry needed) and runs it for real against a
# Redis on loopback: /livez and /startupz 200, vigil_check_up in /metrics, the HEALTHCHECK healthy, non-root,
# read-only root filesystem, exit 0 within 5 s of SIGTERM, no network needed to start.
#
#   bash scripts/image.sh          build, then test (what CI runs after the test suite)
#   bash scripts/image.sh build    build only
#   bash scripts/image.sh test     test the image built before
#
# As root on Debian; installs podman, runc, mmdebstrap and redis-server when missing. The base image (bookworm
# minbase + python3, python3-venv, ca-certificates) is cached as a tarball under .cache/ (about 80 s to make)
# and rebuilt when its recipe changes or it is older than 30 days (Debian security updates).
# IMAGE picks the tag (default localhost/vigil:dev); BASE an existing base image instead of the local one.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/vigil:dev}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
STOP_LIMIT=5   # seconds from SIGTERM to exit, as the README promises
# Known obstacles on these machines: crun refuses the hybrid cgroup layout (use runc), and podman's default
# ulimits are above what any process here may raise its limits to (root included).
PODMAN=(quiet_podman --runtime runc)
ULIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

say() { echo "image: $*" >&2; }
# There is no systemd here to run healthcheck timers: podman says so on every run and rm (the healthcheck is
# run by hand below). Only that line is dropped.
quiet_podman() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
die() { say "FAIL: $*"; exit 1; }

ensure_tools() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v redis-server >/dev/null || missing+=(redis-server)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; run as root or: apt-get install -y ${missing[*]}"
    say "installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packaged redis-server from starting: the test runs its own on a free port.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$created" = 1 ]; then rm -f "$policy"; fi
}

# The base image: made with mmdebstrap, cached under .cache/, imported into podman's store once.
base_image() {
    local args=(
        --variant=minbase --include=python3,python3-venv,ca-certificates
        # merged /usr by symlinks: without this hook bookworm pulls in usrmerge and with it the whole of perl
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright'
    )
    local key tarball image
    key=$(printf '%s\n' "$SUITE" "${args[@]}" | sha256sum | cut -c1-12)
    tarball=.cache/vigil-base-$SUITE-$key.tar
    image=localhost/vigil-base:$SUITE-$key
    mkdir -p .cache
    # Self-ignoring, like .pytest_cache: the tarball never ends up in git.
    [ -f .cache/.gitignore ] || printf '# made by scripts/image.sh\n*\n' > .cache/.gitignore
    if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime +30)" ]; then
        say "base tarball older than 30 days: rebuilding"
        rm -f "$tarball"
        podman image rm -f "$image" >/dev/null 2>&1 || true
    fi
    if ! podman image exists "$image"; then
        if [ ! -f "$tarball" ]; then
            rm -f .cache/vigil-base-*.tar   # other recipes
            say "making the base with mmdebstrap ($SUITE minbase + python3), about 80 s ..."
            local started=$SECONDS
            # Its log is shown only when it fails (the merged-usr hook is chatty even with --quiet).
            if ! mmdebstrap --quiet --format=tar "${args[@]}" "$SUITE" "$tarball.tmp" \
                "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
                "deb $SECURITY_MIRROR $SUITE-security main" > .cache/mmdebstrap.log 2>&1; then
                cat .cache/mmdebstrap.log >&2
                rm -f "$tarball.tmp"
                die "mmdebstrap failed"
            fi
            mv "$tarball.tmp" "$tarball"
            say "base tarball made in $((SECONDS - started)) s"
        fi
        podman import --quiet "$tarball" "$image" >/dev/null
    fi
    echo "$image"
}

build() {
    local base=${BASE:-}
    [ -n "$base" ] || base=$(base_image)
    local version revision created volumes=()
    version=$(python3 -c "import re; print(re.search(r'^__version__ = \"([^\"]+)\"', open('app/__init__.py').read(), re.M)[1])")
    revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
    created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    # pip inside the build trusts what the host trusts (a TLS-inspecting proxy's CA included).
    if [ -f "$CA_BUNDLE" ]; then volumes=(-v "$CA_BUNDLE:$CA_BUNDLE:ro"); fi
    say "building $IMAGE from $base ..."
    local started=$SECONDS
    "${PODMAN[@]}" build --runtime runc --format docker --network host "${ULIMITS[@]}" "${volumes[@]}" \
        --build-arg "BASE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
        --build-arg "CREATED=$created" --tag "$IMAGE" . >&2
    local size
    size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
    say "built $IMAGE in $((SECONDS - started)) s: $((size / 1000000)) MB ($size bytes)"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A GET on loopback: prints the status ("000" when nothing answers), or with `body` the body of a 200.
http_get() {
    python3 - "$@" <<'EOF'
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=2) as response:
        status, body = response.status, response.read().decode()
except urllib.error.HTTPError as exc:
    status, body = exc.code, ""
except OSError:
    status, body = 0, ""
print(body if sys.argv[2:] == ["body"] else f"{status:03d}")
EOF
}

# GETs each page and every script, stylesheet and image it references, which must all be Vigil's own (no CDN: the
# image needs no network); prints what was fetched, or what failed (and exits 1).
page_assets() {
    python3 - "$@" <<'EOF'
import re, sys, urllib.error, urllib.parse, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
base, pages = sys.argv[1], sys.argv[2:]
fetched, failed = [], []
def get(path):
    try:
        with opener.open(base + path, timeout=5) as response:
            return response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        failed.append(f"{path} ({getattr(exc, 'code', exc)})")
        return None
for page in pages:
    html = get(page)
    if html is None:
        continue
    fetched.append(page)
    for ref in re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', html):
        url = urllib.parse.urldefrag(urllib.parse.urljoin(page, ref)).url
        if url in fetched or url.startswith("data:"):
            continue
        if urllib.parse.urlsplit(url).netloc:
            failed.append(f"{url} (another origin: the page would need the network)")
        elif get(url) is not None:
            fetched.append(url)
print(" ".join(failed) if failed else " ".join(fetched))
sys.exit(1 if failed else 0)
EOF
}

wait_for_status() {  # url, seconds
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(http_get "$1")" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

tmp='' name='' redis_pid=''
cleanup() {
    if [ -n "$name" ]; then quiet_podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; fi
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}

run_tests() {
    podman image exists "$IMAGE" || die "no image $IMAGE: build it first (bash scripts/image.sh build)"
    # Globals, for the EXIT trap.
    tmp=$(mktemp -d)
    name=vigil-image-test-$$
    trap cleanup EXIT
    local redis_port port
    redis_port=$(free_port)
    port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
        --logfile "$tmp/redis.log" &
    redis_pid=$!
    python3 -c "import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(('127.0.0.1', $redis_port), timeout=0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)" || die "redis-server did not start"
    cat > "$tmp/vigil.yaml" <<EOF
# The image test's config: a Redis on loopback, checked every 3 s.
defaults: {interval: 3s, timeout: 2s}
server: {host: 127.0.0.1, show_details: always, shutdown_grace: 3s}
components:
  cache:
    type: redis
    url: redis://127.0.0.1:$redis_port/0
    checks:
      connectivity: {}
      memory: {}
EOF
    chmod 644 "$tmp/vigil.yaml"
    local config=(-v "$tmp/vigil.yaml:/etc/vigil/vigil.yaml:ro")

    # No network at all: the image starts and validates its config offline, and it trusts the public CAs.
    local out
    out=$("${PODMAN[@]}" run --rm --network none --read-only "${ULIMITS[@]}" "${config[@]}" "$IMAGE" config validate) \
        || die "config validate with --network none: $out"
    [ "$out" = "configuration ok: 1 components, 2 checks" ] || die "config validate said: $out"
    say "ok: starts with no network (config validate: $out)"
    out=$("${PODMAN[@]}" run --rm --network none --read-only "${ULIMITS[@]}" --entrypoint python3 "$IMAGE" \
        -c 'import ssl; print(ssl.create_default_context().cert_store_stats()["x509_ca"])')
    [ "$out" -gt 0 ] || die "no CA certificates in the image: https and rediss targets could not be verified"
    say "ok: $out CA certificates for TLS targets"

    # The real run: host network (Vigil on a loopback port, Redis on loopback), strictly read-only (not even a
    # tmpfs /tmp), every capability dropped, as Kubernetes would run it with the chart's securityContext.
    "${PODMAN[@]}" run -d --name "$name" --network host --read-only --read-only-tmpfs=false \
        --cap-drop ALL --security-opt no-new-privileges "${ULIMITS[@]}" "${config[@]}" \
        -e "VIGIL_SERVER__PORT=$port" "$IMAGE" >/dev/null
    local base=http://127.0.0.1:$port
    wait_for_status "$base/livez" 30 || { podman logs "$name" >&2; die "/livez not 200 within 30 s"; }
    say "ok: /livez 200"
    wait_for_status "$base/startupz" 15 || { podman logs "$name" >&2; die "/startupz not 200 within 15 s"; }
    say "ok: /startupz 200"
    local metrics
    metrics=$(http_get "$base/metrics" body)
    grep -E '^vigil_check_up\{' <<<"$metrics" | grep 'component="cache"' | grep 'check="connectivity"' | grep -q ' 1.0$' \
        || { echo "$metrics" | grep vigil_check_up >&2; die "/metrics: cache:connectivity not up"; }
    say "ok: /metrics has vigil_check_up (cache:connectivity up: the container reached Redis)"
    [ "$(http_get "$base/readyz")" = 200 ] || die "/readyz not 200"
    say "ok: /readyz 200"
    # Files besides the code (the status page's HTML, CSS and JS, the API docs' assets) must be in the installed
    # package, not only in the source tree that the tests' editable install reads: each page and every script,
    # stylesheet or image it references must be 200, and Vigil's own.
    local served
    served=$(page_assets "$base" / /status /docs) \
        || { podman logs --tail 5 "$name" >&2; die "not served (a file missing from the package?): $served"; }
    say "ok: the status page and the API docs are served with their assets: $served"

    podman healthcheck run "$name" >/dev/null || die "podman healthcheck run: unhealthy"
    local health
    health=$(podman inspect --format '{{.State.Health.Status}}' "$name")
    [ "$health" = healthy ] || die "healthcheck status: $health"
    say "ok: HEALTHCHECK healthy"

    local pid uid
    pid=$(podman inspect --format '{{.State.Pid}}' "$name")
    uid=$(stat -c %u "/proc/$pid")
    [ "$uid" = 10001 ] || die "the process runs as uid $uid, expected 10001"
    say "ok: runs as uid $uid (non-root)"

    [ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || die "root filesystem not read-only"
    if podman exec "$name" python3 -c 'open("/tmp/probe", "w")' 2>/dev/null; then
        die "wrote to /tmp in a read-only container"
    fi
    say "ok: read-only root filesystem (not even /tmp is writable) and Vigil works"

    local started stopped code elapsed
    started=$(date +%s%N)
    podman kill --signal TERM "$name" >/dev/null
    code=$(timeout 15 podman wait "$name") || die "still running 15 s after SIGTERM"
    stopped=$(date +%s%N)
    elapsed=$(( (stopped - started) / 1000000 ))
    [ "$code" = 0 ] || { podman logs "$name" >&2; die "exit status $code after SIGTERM"; }
    [ "$elapsed" -lt $((STOP_LIMIT * 1000)) ] || die "took $elapsed ms to stop after SIGTERM (limit ${STOP_LIMIT} s)"
    say "ok: exit 0 ${elapsed} ms after SIGTERM"
    if podman logs "$name" 2>&1 | grep -q Traceback; then
        podman logs "$name" >&2
        die "a traceback in the logs"
    fi
    say "ok: no traceback in the logs"
}

[ "$(id -u)" = 0 ] || die "run as root (rootful podman; the base image is made with mmdebstrap as root)"
ensure_tools
case "${1:-all}" in
    build) build ;;
    test) run_tests ;;
    all) build; run_tests ;;
    *) die "usage: bash scripts/image.sh [build|test]" ;;
esac
say "$IMAGE: $(( $(podman image inspect --format '{{.Size}}' "$IMAGE") / 1000000 )) MB; all good"
