#!/usr/bin/env bash
# Step-Audio-Chat (130B) quantized to FP8 when it loads (--quantization fp8: weights stored as
# bf16, converted on the GPUs), tensor parallel over 4 GPUs: about 132 GB of weights, 33 GB a
# GPU on 4 x 80 GB. Half the GPUs of chat-tp8.sh; FP8 matrix units need Hopper (H100/H200) or
# newer, Ada (L40S) works too. Check the answers against bf16 before serving it.
#
#   MODEL_DIR=/models/Step-Audio-Chat deploy/sglang/chat-fp8-tp4.sh [more launch_server arguments]
#
# Each variable below may be set in the environment. Arguments after the script's name go to
# SGLang as they are, after these ones (so a repeated option there wins).
set -euo pipefail

# The Python of the environment that has sglang and stepaudio-sglang (the SGLang image's).
PYTHON=${PYTHON:-python3}
# The released Step-Audio-Chat folder: config.json, the safetensors shards, tokenizer.model.
MODEL_DIR=${MODEL_DIR:-/models/Step-Audio-Chat}
# The address SGLang's HTTP server listens on (0.0.0.0: every interface)...
HOST=${HOST:-0.0.0.0}
# ... and its port (engines.step-audio-chat.base_url of the API server points here).
PORT=${PORT:-30000}
# GPUs in the tensor-parallel group: 96 attention heads and 8 KV heads split evenly over 4.
TP_SIZE=${TP_SIZE:-4}
# Weight quantization done at load time.
QUANTIZATION=${QUANTIZATION:-fp8}
# Share of each GPU's memory for the weights plus the KV cache pool.
MEM_FRACTION_STATIC=${MEM_FRACTION_STATIC:-0.85}
# Longest sequence in tokens; empty: the model's own (config.json's max_seq_len).
CONTEXT_LENGTH=${CONTEXT_LENGTH:-}
# Step-1's sqrt-ALiBi attention, registered by stepaudio-sglang.
ATTENTION_BACKEND=${ATTENTION_BACKEND:-step1-alibi}
# SGLang's log level: debug, info, warning, error.
LOG_LEVEL=${LOG_LEVEL:-info}

if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    echo "chat-fp8-tp4.sh: no $MODEL_DIR/config.json (set MODEL_DIR to Step-Audio-Chat's folder)" >&2
    exit 1
fi

args=(
    --model-path "$MODEL_DIR"
    --tp-size "$TP_SIZE"
    --quantization "$QUANTIZATION"
    --host "$HOST"
    --port "$PORT"
    --mem-fraction-static "$MEM_FRACTION_STATIC"
    --attention-backend "$ATTENTION_BACKEND"
    # token ids in and out: the API server tokenizes text and audio tokens itself
    --skip-tokenizer-init
    # the API server sends its sampling rules with a request as custom logit processors
    --enable-custom-logit-processor
    # Prometheus metrics on /metrics
    --enable-metrics
    --log-level "$LOG_LEVEL"
)
if [[ -n "$CONTEXT_LENGTH" ]]; then
    args+=(--context-length "$CONTEXT_LENGTH")
fi

exec "$PYTHON" -m stepaudio_sglang.launch_server "${args[@]}" "$@"
