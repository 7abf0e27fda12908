# syntax=docker/dockerfile:1.7
# kxflow-sandboxes: the stateful fake Kartra and Xero servers, for docker compose and demo clusters
# only (never production). One image, two commands:
#   kartra: python -m kxflow_sandboxes.kartra --port 8120   (the default CMD)
#   xero:   python -m kxflow_sandboxes.xero --port 8130     (needs XERO_OPENAPI_DIR mounted read-only)
# Build from the repository root:  docker build -f deploy/docker/sandboxes.Dockerfile -t kxflow/sandboxes .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

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
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY services/router/pyproject.toml services/router/
COPY services/kartra-gateway/pyproject.toml services/kartra-gateway/
COPY services/xero-gateway/pyproject.toml services/xero-gateway/
COPY tests/sandboxes/pyproject.toml tests/sandboxes/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package kxflow-sandboxes
COPY tests/sandboxes/src tests/sandboxes/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package kxflow-sandboxes

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 kxflow \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin kxflow
COPY --from=build --chown=0:0 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    SANDBOX_PORT=8120
WORKDIR /app
USER 10001:10001
EXPOSE 8120 8130
# A TCP probe: the sandboxes imitate Kartra and Xero, which have no health endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, socket; socket.create_connection(('127.0.0.1', int(os.environ['SANDBOX_PORT'])), 2).close()"]
ENTRYPOINT ["python", "-m"]
CMD ["kxflow_sandboxes.kartra", "--port", "8120"]
