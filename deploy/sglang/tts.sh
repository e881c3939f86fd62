#!/usr/bin/env bash
# Step-Audio-TTS-3B (3.5B, bf16, about 7 GB) on one GPU. The API server reaches it at
# http://HOST:PORT (engines.step-audio-tts.base_url); several of these behind SGLang's router:
# tts-replicas.sh on one machine, router.sh in front of servers on other machines.
#
#   MODEL_DIR=/models/Step-Audio-TTS-3B GPU_ID=0 deploy/sglang/tts.sh [more launch_server arguments]
#
# Each variable below may be set in the environment. Arguments after the script's name go to
# SGLang as they are, after these ones (so a repeated option there wins).
set -euo pipefail

# The Python of the environment that has sglang and stepaudio-sglang (the SGLang image's).
PYTHON=${PYTHON:-python3}
# The released Step-Audio-TTS-3B folder (its language model; the codec is the API's part).
MODEL_DIR=${MODEL_DIR:-/models/Step-Audio-TTS-3B}
# The address SGLang's HTTP server listens on (0.0.0.0: every interface)...
HOST=${HOST:-0.0.0.0}
# ... and its port: 30001, beside Step-Audio-Chat's 30000 on the same machine.
PORT=${PORT:-30001}
# The GPU to use, as numbered in CUDA_VISIBLE_DEVICES (0 in a container given one GPU).
GPU_ID=${GPU_ID:-0}
# Share of the GPU's memory for the weights plus the KV cache pool. Lower it (e.g. 0.5) when
# the API server's codec (engines.step-audio-tts, device "cuda") shares this GPU.
MEM_FRACTION_STATIC=${MEM_FRACTION_STATIC:-0.80}
# Longest sequence in tokens (text, a cloned voice's prompt and the audio tokens written);
# empty: the model's own (config.json's max_seq_len).
CONTEXT_LENGTH=${CONTEXT_LENGTH:-}
# Step-1's sqrt-ALiBi attention, registered by stepaudio-sglang.
ATTENTION_BACKEND=${ATTENTION_BACKEND:-step1-alibi}
# SGLang's log level: debug, info, warning, error.
LOG_LEVEL=${LOG_LEVEL:-info}

if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    echo "tts.sh: no $MODEL_DIR/config.json (set MODEL_DIR to the Step-Audio-TTS-3B folder)" >&2
    exit 1
fi

args=(
    --model-path "$MODEL_DIR"
    --tp-size 1
    --base-gpu-id "$GPU_ID"
    --host "$HOST"
    --port "$PORT"
    --mem-fraction-static "$MEM_FRACTION_STATIC"
    --attention-backend "$ATTENTION_BACKEND"
    # token ids in and out: ids >= 65536 are audio codes, decoded by the API server's codec
    --skip-tokenizer-init
    # TTS-3B's repetition rule comes with each request as a custom logit processor
    --enable-custom-logit-processor
    # Prometheus metrics on /metrics
    --enable-metrics
    --log-level "$LOG_LEVEL"
)
if [[ -n "$CONTEXT_LENGTH" ]]; then
    args+=(--context-length "$CONTEXT_LENGTH")
fi

exec "$PYTHON" -m stepaudio_sglang.launch_server "${args[@]}" "$@"
