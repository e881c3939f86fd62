#!/usr/bin/env bash
# SGLang's router (the sglang-router package) in front of several SGLang servers of one model,
# e.g. Step-Audio-TTS-3B replicas (tts.sh): the API server's base_url points at the router,
# which sends each request to one server. The cache-aware policy sends a request to the server
# whose radix cache already holds the longest part of its prompt (a cloned voice's prompt, a
# conversation's earlier turns), and to the least loaded one when none holds enough.
#
#   Servers at fixed addresses:
#     WORKER_URLS="http://gpu-1:30001 http://gpu-2:30001" deploy/sglang/router.sh
#   On Kubernetes, servers found by their pods' labels (the router needs to list pods):
#     SERVICE_DISCOVERY_SELECTOR="app.kubernetes.io/name=sglang-tts" deploy/sglang/router.sh
#
# Each variable below may be set in the environment. Arguments after the script's name go to
# the router as they are, after these ones.
set -euo pipefail

# The Python of the environment that has sglang-router (the SGLang image's).
PYTHON=${PYTHON:-python3}
# The address the router listens on (0.0.0.0: every interface)...
HOST=${HOST:-0.0.0.0}
# ... and its port: where the API server's base_url points.
PORT=${PORT:-30001}
# The servers, separated by spaces; or leave empty and use service discovery below.
WORKER_URLS=${WORKER_URLS:-}
# Kubernetes service discovery: the labels of the servers' pods (key=value, separated by
# spaces); the router then watches the pods and routes to the ready ones.
SERVICE_DISCOVERY_SELECTOR=${SERVICE_DISCOVERY_SELECTOR:-}
# The port those pods serve on.
SERVICE_DISCOVERY_PORT=${SERVICE_DISCOVERY_PORT:-30001}
# The namespace to watch (empty: every namespace, which needs a ClusterRole).
SERVICE_DISCOVERY_NAMESPACE=${SERVICE_DISCOVERY_NAMESPACE:-}
# How requests are spread: cache_aware, round_robin, power_of_two, random.
POLICY=${POLICY:-cache_aware}
# How long a server may take to become healthy at start (loading weights, CUDA graphs).
WORKER_STARTUP_TIMEOUT_SECS=${WORKER_STARTUP_TIMEOUT_SECS:-1800}
# The address of the router's Prometheus metrics...
PROMETHEUS_HOST=${PROMETHEUS_HOST:-0.0.0.0}
# ... and their port.
PROMETHEUS_PORT=${PROMETHEUS_PORT:-29000}
# The router's log level: debug, info, warn, error.
LOG_LEVEL=${LOG_LEVEL:-info}

args=(
    --host "$HOST"
    --port "$PORT"
    --policy "$POLICY"
    --worker-startup-timeout-secs "$WORKER_STARTUP_TIMEOUT_SECS"
    --prometheus-host "$PROMETHEUS_HOST"
    --prometheus-port "$PROMETHEUS_PORT"
    --log-level "$LOG_LEVEL"
)
if [[ -n "$WORKER_URLS" && -z "$SERVICE_DISCOVERY_SELECTOR" ]]; then
    read -r -a urls <<<"$WORKER_URLS"
    args+=(--worker-urls "${urls[@]}")
elif [[ -n "$SERVICE_DISCOVERY_SELECTOR" && -z "$WORKER_URLS" ]]; then
    read -r -a selector <<<"$SERVICE_DISCOVERY_SELECTOR"
    args+=(--service-discovery --selector "${selector[@]}")
    args+=(--service-discovery-port "$SERVICE_DISCOVERY_PORT")
    if [[ -n "$SERVICE_DISCOVERY_NAMESPACE" ]]; then
        args+=(--service-discovery-namespace "$SERVICE_DISCOVERY_NAMESPACE")
    fi
else
    echo "router.sh: set one of WORKER_URLS and SERVICE_DISCOVERY_SELECTOR" >&2
    exit 1
fi

exec "$PYTHON" -m sglang_router.launch_router "${args[@]}" "$@"
