# ctserver container: one process serving HTTP on 1080 and HTTPS (TLS 1.3) on 1443.
# Build: docker build -t ctserver .   Run: see docker-compose.yml and README.

# The base image is an argument: where no registry is reachable, a locally built
# Debian image stands in (scripts/ensure-container-engine.sh, docs/deploy.md).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base
# A plain Debian base has no Python: Debian's own 3.11 then (python:3.11-slim has it).
RUN if ! command -v python3 >/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

FROM base AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# Behind a TLS-inspecting proxy, pip must trust its CA: pass a bundle as the build
# secret ca-bundle (--secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt).
# A secret, not a layer: it stays out of the image.
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM base
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CT_DATA_DIR=/data
RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin ctserver \
    && mkdir -m 0700 /data && chown ctserver:ctserver /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# Static files are collected now, as root: the running user cannot write to /app.
# manage.py makes everything it creates owner-only (for the data dir), and a build
# context may hold owner-only files: everything under /app is made readable.
RUN CT_DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput \
    && chmod -R a+rX /app && rm -rf /tmp/build-data
USER ctserver
VOLUME ["/data"]
EXPOSE 1080 1443
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
