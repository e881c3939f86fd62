#!/usr/bin/env bash
# Several Step-Audio-TTS-3B servers on one machine, one a GPU (tts.sh each), behind SGLang's
# cache-aware router (router.sh). The API server's base_url points at the router, on the port a
# single tts.sh would use, so going from one server to several changes nothing on its side.
#
#   REPLICAS=4 deploy/sglang/tts-replicas.sh [more launch_server arguments, for every server]
#
# The servers listen on 127.0.0.1 only (the router is their one client); stopping this script
# (Ctrl-C, SIGTERM) stops them all. Each variable below may be set in the environment; MODEL_DIR,
# MEM_FRACTION_STATIC and the others of tts.sh pass through to it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# How many servers to start, one a GPU...
REPLICAS=${REPLICAS:-2}
# ... on GPUs FIRST_GPU, FIRST_GPU + 1, ... (as numbered in CUDA_VISIBLE_DEVICES).
FIRST_GPU=${FIRST_GPU:-0}
# Server i listens on 127.0.0.1:(FIRST_PORT + i).
FIRST_PORT=${FIRST_PORT:-30101}
# The address the router listens on (0.0.0.0: every interface)...
ROUTER_HOST=${ROUTER_HOST:-0.0.0.0}
# ... and its port: where the API server's base_url points, as for a single tts.sh.
ROUTER_PORT=${ROUTER_PORT:-30001}

if [[ ! "$REPLICAS" =~ ^[1-9][0-9]*$ ]]; then
    echo "tts-replicas.sh: REPLICAS must be a positive number, not '$REPLICAS'" >&2
    exit 1
fi

pids=()
stop() {
    trap - EXIT INT TERM
    if ((${#pids[@]})); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
    fi
    wait
}
trap stop EXIT
trap 'exit 143' INT TERM

urls=()
for ((i = 0; i < REPLICAS; i++)); do
    GPU_ID=$((FIRST_GPU + i)) HOST=127.0.0.1 PORT=$((FIRST_PORT + i)) "$HERE/tts.sh" "$@" &
    pids+=($!)
    urls+=("http://127.0.0.1:$((FIRST_PORT + i))")
done

# In the background and waited for, so that a signal reaches the trap at once.
WORKER_URLS="${urls[*]}" SERVICE_DISCOVERY_SELECTOR="" HOST="$ROUTER_HOST" PORT="$ROUTER_PORT" \
    "$HERE/router.sh" &
pids+=($!)
wait "${pids[-1]}"
