# syntax=docker/dockerfile:1
#
# Gemeente-gateway container image.
#
#   docker build -t gemeente-gateway .
#   docker run -p 8080:8080 -v gateway-data:/data \
#       -e GATEWAY_BSN_HASH_KEY=... -e GATEWAY_GGK_URL=https://... gemeente-gateway
#
# The image runs in production mode: it refuses to start without GATEWAY_BSN_HASH_KEY.
# To try it with the mock GGk and the Quickstart's well-known API key instead:
#
#   docker run -p 8080:8080 -e GATEWAY_MODE=development gemeente-gateway \
#       serve --host 0.0.0.0 --with-mocks
#
# Without GATEWAY_DATABASE_URL the database is SQLite in the /data volume (one
# container); set a PostgreSQL URL to run several containers / `gateway worker`s.

ARG PYTHON_VERSION=3.11

# --- builder: the project's wheel plus wheels of every dependency ------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
# README.md is the package's long description (pyproject.toml names it).
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY connectors ./connectors
COPY mocks ./mocks
COPY schemas ./schemas

# tzdata: the code uses zoneinfo("Europe/Amsterdam"); slim images need not carry the
# system time-zone database, the PyPI package is zoneinfo's documented fallback.
RUN pip wheel --wheel-dir /wheels . tzdata

# --- runtime: only the installed wheels, no compilers, no sources, no tests ----------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    GATEWAY_MODE=production \
    GATEWAY_DATA_DIR=/data \
    GATEWAY_PORT=8080 \
    GATEWAY_LOG_JSON=true

# The wheels are mounted for this one step, so they do not end up in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels gemeente-gateway tzdata \
    && python -c "from zoneinfo import ZoneInfo; ZoneInfo('Europe/Amsterdam'); import gateway.cli"

RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway \
    && mkdir -p /app /data \
    && chown gateway:gateway /app /data

WORKDIR /app
USER gateway
VOLUME ["/data"]
EXPOSE 8080

# slim has no curl: ask /health with the standard library (non-2xx raises: unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('GATEWAY_PORT', '8080'), timeout=4)"]

# SIGTERM (docker stop) ends `gateway serve` gracefully with exit code 0.
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0"]
