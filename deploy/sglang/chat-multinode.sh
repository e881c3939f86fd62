#!/usr/bin/env bash
# Step-Audio-Chat (130B, bf16) across several nodes: one SGLang server whose GPUs are on
# NNODES machines. Run this script on every node, the same way, with its own NODE_RANK; rank 0
# serves HTTP (the others only compute) and its address:port is DIST_INIT_ADDR for all.
#
#   Two nodes of 8 GPUs, tensor parallel over 16 (the default):
#     node 0: NODE_RANK=0 DIST_INIT_ADDR=10.0.0.1:20000 deploy/sglang/chat-multinode.sh
#     node 1: NODE_RANK=1 DIST_INIT_ADDR=10.0.0.1:20000 deploy/sglang/chat-multinode.sh
#   Tensor parallel 8 inside each node, pipeline parallel 2 across them (less traffic between
#   the nodes; 88 layers split 44 + 44): add TP_SIZE=8 PP_SIZE=2 on both.
#
# Under a Kubernetes LeaderWorkerSet the defaults come from the variables it sets in every pod
# (LWS_LEADER_ADDRESS, LWS_WORKER_INDEX, LWS_GROUP_SIZE): see deploy/kubernetes/sglang-chat.yaml.
# Between nodes NCCL wants InfiniBand or RoCE; if it picks the wrong interface, set
# NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME (e.g. eth0) in the environment.
#
# Each variable below may be set in the environment. Arguments after the script's name go to
# SGLang as they are, after these ones (so a repeated option there wins).
set -euo pipefail

# The Python of the environment that has sglang and stepaudio-sglang (the SGLang image's).
PYTHON=${PYTHON:-python3}
# The released Step-Audio-Chat folder, at the same path on every node.
MODEL_DIR=${MODEL_DIR:-/models/Step-Audio-Chat}
# The address rank 0's HTTP server listens on (0.0.0.0: every interface)...
HOST=${HOST:-0.0.0.0}
# ... and its port (engines.step-audio-chat.base_url of the API server points here).
PORT=${PORT:-30000}
# Machines in the group (a LeaderWorkerSet's group size)...
NNODES=${NNODES:-${LWS_GROUP_SIZE:-2}}
# ... and this one's place among them, 0 to NNODES - 1 (0 serves HTTP; a LeaderWorkerSet's
# worker index).
NODE_RANK=${NODE_RANK:-${LWS_WORKER_INDEX:-}}
# The port on rank 0 where the group meets (torch.distributed's rendezvous); free there.
DIST_INIT_PORT=${DIST_INIT_PORT:-20000}
# host:port of that meeting point, reachable from every node (under a LeaderWorkerSet: the
# leader pod's address).
DIST_INIT_ADDR=${DIST_INIT_ADDR:-${LWS_LEADER_ADDRESS:+$LWS_LEADER_ADDRESS:$DIST_INIT_PORT}}
# GPUs on each node; TP_SIZE x PP_SIZE must equal NNODES x GPUS_PER_NODE.
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
# Tensor parallel over all GPUs (96 heads split 6 a GPU at 16; the 8 KV heads are replicated).
TP_SIZE=${TP_SIZE:-16}
# Pipeline stages (layers split across nodes); 1: none.
PP_SIZE=${PP_SIZE:-1}
# Share of each GPU's memory for the weights plus the KV cache pool.
MEM_FRACTION_STATIC=${MEM_FRACTION_STATIC:-0.85}
# Longest sequence in tokens; empty: the model's own (config.json's max_seq_len).
CONTEXT_LENGTH=${CONTEXT_LENGTH:-}
# Step-1's sqrt-ALiBi attention, registered by stepaudio-sglang.
ATTENTION_BACKEND=${ATTENTION_BACKEND:-step1-alibi}
# SGLang's log level: debug, info, warning, error.
LOG_LEVEL=${LOG_LEVEL:-info}

fail() {
    echo "chat-multinode.sh: $*" >&2
    exit 1
}
[[ -f "$MODEL_DIR/config.json" ]] ||
    fail "no $MODEL_DIR/config.json (set MODEL_DIR to the Step-Audio-Chat folder)"
[[ "$NODE_RANK" =~ ^[0-9]+$ ]] || fail "set NODE_RANK (0 on the node that serves HTTP, then 1, 2, ...)"
[[ "$NNODES" =~ ^[1-9][0-9]*$ ]] || fail "NNODES must be a positive number, not '$NNODES'"
[[ -n "$DIST_INIT_ADDR" ]] || fail "set DIST_INIT_ADDR to host:port of the node with rank 0"
((NODE_RANK < NNODES)) || fail "NODE_RANK $NODE_RANK is not in 0..$((NNODES - 1))"
((TP_SIZE * PP_SIZE == NNODES * GPUS_PER_NODE)) ||
    fail "TP_SIZE $TP_SIZE x PP_SIZE $PP_SIZE is not NNODES $NNODES x GPUS_PER_NODE $GPUS_PER_NODE"

args=(
    --model-path "$MODEL_DIR"
    --tp-size "$TP_SIZE"
    --nnodes "$NNODES"
    --node-rank "$NODE_RANK"
    --dist-init-addr "$DIST_INIT_ADDR"
    --host "$HOST"
    --port "$PORT"
    --mem-fraction-static "$MEM_FRACTION_STATIC"
    --attention-backend "$ATTENTION_BACKEND"
    # token ids in and out: the API server tokenizes text and audio tokens itself
    --skip-tokenizer-init
    # the API server sends its sampling rules with a request as custom logit processors
    --enable-custom-logit-processor
    # Prometheus metrics on /metrics (rank 0)
    --enable-metrics
    --log-level "$LOG_LEVEL"
)
if ((PP_SIZE > 1)); then
    args+=(--pp-size "$PP_SIZE")
fi
if [[ -n "$CONTEXT_LENGTH" ]]; then
    args+=(--context-length "$CONTEXT_LENGTH")
fi

exec "$PYTHON" -m stepaudio_sglang.launch_server "${args[@]}" "$@"
