# Vigil's image: one `vigil serve` process (the metrics registry is per process), non-root, read-only friendly.
# BASE is any Debian-like image with python3 (>= 3.11) and its venv module: an official slim Python image by
# default, or a local one where no registry is reachable (scripts/image.sh imports one made with mmdebstrap).
# Build with --format docker (the OCI format has no HEALTHCHECK).
ARG BASE=docker.io/library/python:3.11-slim

FROM ${BASE} AS build
# pip checks TLS against the system bundle: a build behind a TLS-inspecting proxy mounts the host's bundle
# over it (podman build -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro).
ARG PIP_CERT=/etc/ssl/certs/ca-certificates.crt
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# binutils for `strip`, in the build stage only.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
    && python3 -m venv /opt/vigil
WORKDIR /src
# Dependencies first, exactly as pinned and hashed in requirements.lock (scripts/lock.sh writes it): an image built
# twice holds the same packages, and this layer survives changes to app/.
COPY requirements.lock ./
RUN /opt/vigil/bin/pip install -q --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
# Then Vigil itself, without resolving anything again. Not needed at run time: pip, setuptools, and what some
# wheels ship besides their code (asynch's Cython sources and debug symbols were 60 of its 62 MB).
RUN /opt/vigil/bin/pip install -q --no-deps . \
    && /opt/vigil/bin/pip uninstall -q -y pip setuptools \
    && find /opt/vigil -type f \( -name '*.c' -o -name '*.pyx' -o -name '*.pxd' \) -delete \
    && find /opt/vigil -type f -name '*.so*' -exec strip --strip-debug {} +

FROM ${BASE}
ARG BASE
# The version is app/__init__.py's __version__: scripts/image.sh passes it; this default (kept equal by a test) labels
# an image built with a plain `docker build .`.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Health checks and readiness for a system's dependencies (Redis, ClickHouse, HTTP)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE}"
# A numeric user with a passwd entry (written directly: minimal bases have no useradd) and no home directory.
RUN echo 'vigil:x:10001:10001:vigil:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'vigil:x:10001:' >> /etc/group
COPY --from=build /opt/vigil /opt/vigil
COPY LICENSE /usr/share/doc/vigil/LICENSE
# Nothing is written at run time (pip compiled the bytecode at install time), so the root filesystem can be read-only.
ENV PATH=/opt/vigil/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIGIL_CONFIG=/etc/vigil/vigil.yaml
USER 10001:10001
EXPOSE 8080
# /livez on loopback with the standard library (no curl in a slim image), past any proxy settings. The port
# follows VIGIL_SERVER__PORT: set the port that way, not with --port, when the healthcheck matters.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/livez' % os.environ.get('VIGIL_SERVER__PORT', '8080'), timeout=2)"]
ENTRYPOINT ["vigil"]
CMD ["serve", "--log-format", "json"]
