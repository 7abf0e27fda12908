# syntax=docker/dockerfile:1.7
# kartra-gateway: Kartra webhook/IPN intake and Kartra action execution; HTTP on :8020.
# Build from the repository root:  docker build -f deploy/docker/kartra-gateway.Dockerfile -t kxflow/kartra-gateway .
# Runs as uid 10001 with a read-only root filesystem (only /tmp must be writable).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---- build: resolve the locked dependencies of this one workspace member into /app/.venv ----------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
# UV_NATIVE_TLS: the build trusts the system's certificate store, so a build behind a proxy with its
# own CA works when that CA bundle is mounted over the store (deploy/local/images.py does).
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NATIVE_TLS=1 \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first (cached layer): uv needs every workspace member's pyproject.toml to read the lock.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY services/router/pyproject.toml services/router/
COPY services/kartra-gateway/pyproject.toml services/kartra-gateway/
COPY services/xero-gateway/pyproject.toml services/xero-gateway/
COPY tests/sandboxes/pyproject.toml tests/sandboxes/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package kartra-gateway
# Then the code: installed non-editable, so the final image needs no source tree.
COPY contracts/src contracts/src
COPY services/kartra-gateway/src services/kartra-gateway/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package kartra-gateway

# ---- runtime: the interpreter and the virtualenv, nothing else ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 kxflow \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin kxflow
COPY --from=build --chown=0:0 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    KARTRA_GW_HTTP_HOST=0.0.0.0 \
    KARTRA_GW_HTTP_PORT=8020
WORKDIR /app
USER 10001:10001
EXPOSE 8020
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['KARTRA_GW_HTTP_PORT']}/livez\", timeout=2)"]
ENTRYPOINT ["python", "-m", "kartra_gateway"]
