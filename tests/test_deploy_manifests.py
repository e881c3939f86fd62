"""deploy/ checked offline: the Kubernetes manifests against Kubernetes' own schemas, the SGLang
launch scripts against SGLang's and its router's command-line flags, the Dockerfiles against the
repository they are built from. No cluster, no GPU, no network: the launch scripts run with a
stand-in for Python that records the command line it was given."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from stepaudio_api.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SGLANG = DEPLOY / "sglang"
DOCKER = DEPLOY / "docker"

# Kubernetes versions whose OpenAPI schemas (bundled by kubernetes-validate, strict: unknown
# fields are errors) every manifest must satisfy: the oldest we document and the newest bundled.
KUBERNETES_VERSIONS = ("1.34", kubernetes_validate.utils.latest_version())
# Manifests in deploy/kubernetes that kustomization.yaml leaves out on purpose.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "models-download.yaml"}

# The command-line flags of `python -m sglang.launch_server` (what stepaudio_sglang.launch_server
# passes on): sglang 0.5.23, the release on PyPI, read from python/sglang/srt/server_args.py and
# the python/sglang/srt/arg_groups/fields/ modules its ServerArgs is built from (each field
# `name` is --name, plus its Arg(aliases=...), plus the flags add_cli_args registers by hand).
# In sgl-project/sglang's git history the same file holds the fields itself (before the split).
SGLANG_SERVER_FLAGS = frozenset(
    """
    --abort-on-priority-when-disabled --admin-api-key --allow-auto-truncate --allowed-media-domains
    --api-key --asr-max-buffer-seconds --asr-max-concurrent-sessions --attention-backend
    --attention-context-parallel-size --attention-data-parallel-size --attn-cp-size --attn-dp-size
    --base-gpu-id --batch-notify-size --bf16-gemm-backend --boundary-reduction
    --bucket-e2e-request-latency --bucket-inter-token-latency --bucket-time-to-first-token
    --c128-page-size --chat-template --checkpoint-engine-wait-weights-before-ready
    --chunked-prefill-size --completion-template --config --constrained-json-disable-any-whitespace
    --constrained-json-max-whitespace-cnt --constrained-json-whitespace-pattern --context-bucket
    --context-length --cp-strategy --cpu-offload-gb --crash-dump-folder --cuda-graph-backend-decode
    --cuda-graph-backend-prefill --cuda-graph-bs-decode --cuda-graph-bs-prefill --cuda-graph-config
    --cuda-graph-max-bs-decode --cuda-graph-max-bs-prefill --cuda-graph-max-seq-len-prefill
    --cuda-graph-prefill-max-context --custom-weight-loader --data-parallel-size --dcp-comm-backend
    --dcp-replicate-q-proj --dcp-size --debug-cuda-graph --debug-tensor-dump-input-file
    --debug-tensor-dump-layers --debug-tensor-dump-output-folder --decode-attention-backend
    --decode-context-parallel-size --decode-log-interval --decoupled-spec-bind-endpoint
    --decoupled-spec-connect-endpoints --decoupled-spec-rank --decoupled-spec-role
    --decrypted-config-file --decrypted-draft-config-file --deepep-config
    --deepep-dispatcher-output-dtype --deepep-mode --deepep-v2-mode --default-chat-template-kwargs
    --default-priority-value --delete-ckpt-after-loading --detokenizer-worker-num --device
    --disable-aiter-allreduce-fusion-in-decode --disable-aiter-allreduce-fusion-in-prefill
    --disable-attn-tp-gather --disable-chunked-prefix-cache --disable-cuda-graph
    --disable-cuda-graph-padding --disable-custom-all-reduce --disable-decode-cuda-graph
    --disable-fast-image-processor --disable-flashinfer-autotune
    --disable-flashinfer-cutlass-moe-fp4-allgather --disable-hybrid-swa-memory
    --disable-outlines-disk-cache --disable-overlap-schedule --disable-prefill-cuda-graph
    --disable-priority-preemption --disable-radix-cache --disable-shared-experts-fusion
    --disable-tokenizer-batch-decode --disaggregation-bootstrap-port
    --disaggregation-decode-allocation-policy --disaggregation-decode-enable-offload-kvcache
    --disaggregation-decode-enable-radix-cache --disaggregation-decode-extra-slots
    --disaggregation-decode-host-receive-threshold --disaggregation-decode-polling-interval
    --disaggregation-decode-retraction-backup --disaggregation-enable-kv-checksum
    --disaggregation-ib-device --disaggregation-mode --disaggregation-transfer-backend
    --dist-init-addr --dist-timeout --dllm-algorithm --dllm-algorithm-config --dllm-fdfo
    --download-dir --dp-size --dsa-decode-backend --dsa-paged-mqa-logits-backend
    --dsa-prefill-backend --dsa-topk-backend --dsa-triton-union --dsv4-attn-backend
    --dsv4-prefill-backend --dtype --dwdp-size --dynamic-batch-tokenizer-batch-size
    --dynamic-batch-tokenizer-batch-timeout --elastic-ep-backend --elastic-ep-initial-size
    --elastic-ep-join-mode --elastic-ep-join-rank-offset --elastic-ep-scale-timeout
    --enable-adaptive-dispatch-to-encoder --enable-aiter-allreduce-fusion --enable-amd-monokernel
    --enable-attn-tp-input-scattered --enable-broadcast-mm-inputs-process --enable-cache-report
    --enable-cp-decode-attn-tp --enable-cudagraph-gc --enable-custom-logit-processor
    --enable-decoder-swa-bounded-replay --enable-deepseek-v4-fp4-indexer --enable-dense-mlp-attn-tp
    --enable-deterministic-inference --enable-dp-attention
    --enable-dp-attention-local-control-broadcast --enable-dp-lm-head
    --enable-draft-weights-cpu-backup --enable-dsa-cache-layer-split --enable-dsa-fused-indexer
    --enable-dynamic-batch-tokenizer --enable-dynamic-chunking --enable-elastic-expert-backup
    --enable-encoder-swa-bounded-replay --enable-eplb --enable-flashinfer-allreduce-fusion
    --enable-flexkv --enable-forward-pass-metrics --enable-fp32-lm-head
    --enable-fused-moe-sum-all-reduce --enable-fused-qk-norm-rope --enable-hicache
    --enable-hierarchical-cache --enable-hisparse --enable-http-worker-reuseport --enable-http2
    --enable-int8-mamba-checkpoint --enable-kv-cache-sharding --enable-layernorm-sp
    --enable-layerwise-nvtx-marker --enable-lean-attention --enable-linear-replayssm
    --enable-linear-replayssm-spec --enable-linker-mla-dedup --enable-lmcache --enable-lora
    --enable-lora-overlap-loading --enable-mamba-cache-stochastic-rounding
    --enable-megamoe-for-layernorm-sp --enable-memory-saver --enable-metrics
    --enable-metrics-for-all-schedulers --enable-mfu-metrics --enable-mis --enable-mixed-chunk
    --enable-mm-global-cache --enable-mscclpp --enable-multi-layer-eagle --enable-multimodal
    --enable-nccl-nvls --enable-nvidia-megakernel --enable-p2p-check --enable-page-major-kv-layout
    --enable-paged-experts --enable-pd-role-switch --enable-pdmux
    --enable-precise-embedding-interpolation --enable-prefill-cp --enable-prefill-delayer
    --enable-prefix-mm-cache --enable-priority-scheduling --enable-profile-cuda-graph
    --enable-quant-communications --enable-request-time-stats-logging --enable-response-store
    --enable-return-aux-hidden-states --enable-return-hidden-states --enable-return-indexer-topk
    --enable-return-routed-experts --enable-scattered-sconv --enable-session-radix-cache
    --enable-shared-experts-attn-tp --enable-single-batch-overlap --enable-ssl-refresh
    --enable-streaming-session --enable-strict-thinking --enable-symm-mem --enable-tf32-matmul
    --enable-tokenizer-batch-encode --enable-torch-compile --enable-torch-compile-debug-mode
    --enable-torch-symm-mem --enable-tp-lm-head-all-to-all --enable-trace --enable-two-batch-overlap
    --enable-unified-cache-external-linker --enable-unified-memory --enable-w4a4-mxfp4-megamoe
    --enable-waterfill --enable-watermark --enable-weights-cpu-backup --encoder-bootstrap-port
    --encoder-only --encoder-register-urls --encoder-transfer-backend --encoder-urls
    --enforce-disable-flashinfer-allreduce-fusion --enforce-shared-experts-fusion
    --engine-info-bootstrap-port --ep --ep-dispatch-algorithm --ep-num-redundant-experts --ep-size
    --eplb-algorithm --eplb-min-rebalancing-utilization-threshold --eplb-rebalance-layers-per-chunk
    --eplb-rebalance-num-iterations --expert-balancedness-report-mode
    --expert-distribution-recorder-buffer-size --expert-distribution-recorder-mode
    --expert-parallel-size --experts-shared-outer-loras --export-metrics-to-file
    --export-metrics-to-file-dir --extra-metric-labels --fastapi-root-path --file-storage-path
    --flashinfer-a2a-dispatch-type --flashinfer-allreduce-fusion-backend
    --flashinfer-autotune-skip-ops --flashinfer-mla-disable-ragged --flashinfer-mxfp4-moe-precision
    --flexkv-config-file --forward-hooks --forward-pass-metrics-ipc-name
    --forward-pass-metrics-worker-id --fp4-gemm-backend --fp8-gemm-backend --fuseep-mode
    --gated-launch-port --gc-threshold --gc-warning-threshold-secs --generation-tokens-buckets
    --gpu-id-step --grammar-backend --grpc-http-sidecar-port --grpc-mode --grpc-port
    --grpc-response-timeout-secs --hf-chat-template-name --hicache-host-memory-fraction
    --hicache-host-memory-mode --hicache-io-backend --hicache-mem-layout --hicache-ratio
    --hicache-size --hicache-storage-backend --hicache-storage-backend-extra-config
    --hicache-storage-prefetch-policy --hicache-storage-prefetch-retry-max-attempts
    --hicache-storage-prefetch-retry-poll-interval --hicache-write-policy
    --hierarchical-sparse-attention-extra-config --hisparse-config --host
    --http2-initial-connection-window-size --http2-max-concurrent-streams --image-processor-backend
    --incremental-streaming-output --init-expert-location --int8-mamba-ckpt-size --is-embedding
    --json-model-override-args --kt-cpuinfer --kt-max-deferred-experts-per-token --kt-method
    --kt-num-gpu-experts --kt-threadpool-count --kt-weight-path --kv-cache-dtype --kv-canary
    --kv-canary-real-data --kv-canary-sweep-interval --kv-events-config --language-model-only
    --language-only --limit-mm-data-per-request --linear-attn-backend --linear-attn-decode-backend
    --linear-attn-prefill-backend --linear-attn-verify-backend --linear-replayssm-cache-len
    --lmcache-config-file --load-balance-method --load-format --load-publish-endpoint
    --load-snapshot-publish-interval --log-level --log-level-http --log-requests
    --log-requests-format --log-requests-level --log-requests-target --lora-backend
    --lora-drain-wait-threshold --lora-eviction-policy --lora-paths --lora-strict-loading
    --lora-target-modules --lora-use-virtual-experts --mamba-backend --mamba-cache-philox-rounds
    --mamba-full-memory-ratio --mamba-max-states-per-path --mamba-radix-cache-strategy
    --mamba-ssm-dtype --mamba-track-interval --max-ep-size --max-loaded-loras --max-lora-chunk-size
    --max-lora-rank --max-loras-per-batch --max-mamba-cache-size --max-prefill-tokens
    --max-queued-requests --max-running-requests --max-total-tokens --media-url-max-file-size-mb
    --mem-fraction-static --min-free-slots-delay --mlx-enable-sampling --mm-attention-backend
    --mm-enable-dp-encoder --mm-feature-transport --mm-global-cache-backend --mm-io-worker-num
    --mm-preprocess-cache-size-mb --mm-process-config --mm-processor-worker-num --model
    --model-checksum --model-config-parser --model-impl --model-loader-extra-config --model-path
    --modelexpress-config --modelopt-checkpoint-restore-path --modelopt-checkpoint-save-path
    --modelopt-export-path --modelopt-quant --moe-a2a-backend --moe-data-parallel-size
    --moe-dense-tp-size --moe-dp-size --moe-runner-backend --monokernel-backend --mooncake-ib-device
    --msprobe-dump-config --nccl-init-addr --nccl-port --nnodes --no-enable-tf32-matmul --node-rank
    --num-continuous-decode-steps --num-reserved-decode-tokens --numa-node --offload-group-size
    --offload-mode --offload-num-in-group --offload-prefetch-step --optimistic-prefill-attempts
    --otlp-service-name --otlp-traces-endpoint --page-size --paged-experts-num-resident
    --pdmux-config-path --pipeline-parallel-size --ple-offload-backend --ple-offload-dir
    --ple-offload-embedding --port --pp-async-batch-depth --pp-max-micro-batch-size --pp-size
    --pre-warm-nccl --preferred-sampling-params --prefill-attention-backend
    --prefill-decode-interval --prefill-decode-interval-min-bs
    --prefill-delayer-forward-passes-buckets --prefill-delayer-max-delay-ms
    --prefill-delayer-max-delay-passes --prefill-delayer-queue-min-ratio
    --prefill-delayer-token-usage-low-watermark --prefill-delayer-wait-seconds-buckets
    --prefill-kv-cache-dequant-dtype --prefill-max-requests --prefill-only-disable-kv-cache
    --priority-scheduling-preemption-threshold --prompt-tokens-buckets --qsa-indexer-dtype
    --quantization --quantization-param-path --quantize-and-serve --radix-cache-backend
    --radix-eviction-policy --radix-eviction-policy-config --random-seed --reasoning-parser
    --remote-instance-weight-loader-backend --remote-instance-weight-loader-seed-instance-ip
    --remote-instance-weight-loader-seed-instance-service-port
    --remote-instance-weight-loader-send-weights-group-ports
    --remote-instance-weight-loader-start-seed-via-transfer-engine --retraction-policy
    --return-aux-hidden-state-layer-ids --return-hidden-states-mode --return-input-ids
    --return-output-ids --revision --rl-on-policy-target --rl-quant-profile --sampling-backend
    --sampling-defaults --sampling-mask-max-tokens --schedule-conservativeness
    --schedule-low-priority-values-first --schedule-policy --scheduler-recv-interval
    --served-model-name --shared-experts-tp-size --show-time-cost --sidecar --sidecar-args
    --skip-server-warmup --skip-tokenizer-init --sleep-on-idle --sm-group-num --smg-grpc-mode
    --smg-http-sidecar-port --soft-watchdog-timeout --spec-trace-dir
    --speculative-accept-threshold-acc --speculative-accept-threshold-single --speculative-adaptive
    --speculative-adaptive-config --speculative-algorithm --speculative-attention-mode
    --speculative-dflash-block-size --speculative-domino-candidate-pool-size
    --speculative-draft-attention-backend --speculative-draft-kv-cache-dtype
    --speculative-draft-load-format --speculative-draft-model --speculative-draft-model-path
    --speculative-draft-model-quantization --speculative-draft-model-revision
    --speculative-draft-sink-size --speculative-draft-window-size --speculative-dsa-topk-backend
    --speculative-dspark-align-verify-tokens-to-graph-tier --speculative-dspark-block-size
    --speculative-dspark-confidence-sts-path --speculative-dspark-sps-table-path
    --speculative-eagle-topk --speculative-enable-w4a4-mxfp4-megamoe --speculative-moe-a2a-backend
    --speculative-moe-runner-backend --speculative-ngram-capacity
    --speculative-ngram-external-corpus-max-tokens --speculative-ngram-external-corpus-path
    --speculative-ngram-external-sam-budget --speculative-ngram-match-type
    --speculative-ngram-max-bfs-breadth --speculative-ngram-max-trie-depth
    --speculative-ngram-min-bfs-breadth --speculative-num-draft-tokens --speculative-num-steps
    --speculative-token-map --speculative-use-block-verification
    --speculative-use-rejection-sampling --ssl-ca-certs --ssl-certfile --ssl-keyfile
    --ssl-keyfile-password --startup-weight-load-mode --stream-interval
    --stream-response-default-include-usage --strip-thinking-cache --swa-full-tokens-ratio
    --swa-prefix-tails --tbo-token-distribution-threshold --tensor-parallel-size --tokenizer-backend
    --tokenizer-metrics-allowed-custom-labels --tokenizer-metrics-custom-labels-header
    --tokenizer-mode --tokenizer-path --tokenizer-worker-num --tool-call-parser --tool-server
    --torch-compile-max-bs --tp-size --trace-modules --triton-attention-num-kv-splits
    --triton-attention-reduce-in-fp32 --triton-attention-split-tile-size --trust-mm-content-hashes
    --trust-remote-code --trust-request-chat-template --unified-cache-external-linker-backend
    --unified-cache-external-linker-config --uno-lora-path --use-ray
    --uvicorn-access-log-exclude-prefixes --warmups --watchdog-timeout --watermark-config
    --weight-cache-mode --weight-cache-socket --weight-cache-timeout --weight-loader-disable-mmap
    --weight-loader-drop-cache-after-load --weight-loader-prefetch-checkpoints
    --weight-loader-prefetch-num-threads --weight-version
""".split()
)
# The flags of `python -m sglang_router.launch_router`: sglang-router 0.3.2 (PyPI), read from
# sglang_router/router_args.py (RouterArgs.add_cli_args without the "router-" prefix).
SGLANG_ROUTER_FLAGS = frozenset(
    """
    --api-key --assignment-mode --backend --balance-abs-threshold --balance-rel-threshold
    --bucket-adjust-interval-secs --ca-cert-paths --cache-threshold --cb-failure-threshold
    --cb-success-threshold --cb-timeout-duration-secs --cb-window-duration-secs --chat-template
    --client-cert-path --client-key-path --control-plane-api-keys --control-plane-audit-enabled
    --cors-allowed-origins --decode --decode-policy --decode-selector --disable-circuit-breaker
    --disable-health-check --disable-retries --dp-aware --enable-igw --enable-trace
    --eviction-interval-secs --health-check-endpoint --health-check-interval-secs
    --health-check-timeout-secs --health-failure-threshold --health-success-threshold
    --history-backend --host --jwt-audience --jwt-issuer --jwt-jwks-uri --jwt-role-mapping --log-dir
    --log-level --max-concurrent-requests --max-idle-secs --max-payload-size --max-tree-size
    --mcp-config-path --mini-lb --model-path --oracle-connect-descriptor --oracle-password
    --oracle-pool-max --oracle-pool-min --oracle-pool-timeout-secs --oracle-tns-alias
    --oracle-username --oracle-wallet-path --otlp-traces-endpoint --pd-disaggregation --policy
    --port --postgres-db-url --postgres-pool-max --prefill --prefill-policy --prefill-selector
    --prometheus-duration-buckets --prometheus-host --prometheus-port --queue-size
    --queue-timeout-secs --rate-limit-tokens-per-second --reasoning-parser --redis-pool-max
    --redis-retention-days --redis-url --request-id-headers --request-timeout-secs
    --retry-backoff-multiplier --retry-initial-backoff-ms --retry-jitter-factor
    --retry-max-backoff-ms --retry-max-retries --selector --service-discovery
    --service-discovery-namespace --service-discovery-port --shutdown-grace-period-secs
    --tls-cert-path --tls-key-path --tokenizer-cache-enable-l0 --tokenizer-cache-enable-l1
    --tokenizer-cache-l0-max-entries --tokenizer-cache-l1-max-memory --tokenizer-path
    --tool-call-parser --worker-startup-check-interval --worker-startup-timeout-secs --worker-urls
""".split()
)


# --- Kubernetes --------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                yield path, doc


def docs_of(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in docs_of(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in deploy/kubernetes, found {len(found)}"
    return found[0]


def validate_core(doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path)
        raise AssertionError(
            f"{doc['kind']} {doc['metadata'].get('name')}: {where}: {error.message}"
        ) from None


def as_pod_template(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A PodTemplateSpec wrapped in a core v1 PodTemplate, whose schema checks it."""
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name},
        "template": template,
    }


# LeaderWorkerSet (leaderworkerset.x-k8s.io/v1) is a CRD, outside Kubernetes' schemas: its own
# fields as kubernetes-sigs/lws's api/leaderworkerset/v1/leaderworkerset_types.go declares them;
# its pod templates are checked against the core PodTemplateSpec schema.
_POSITIVE = {"type": "integer", "minimum": 1}
_INT_OR_STRING = {"type": ["integer", "string"]}
LWS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "leaderworkerset.x-k8s.io/v1"},
        "kind": {"const": "LeaderWorkerSet"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["leaderWorkerTemplate"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "startupPolicy": {"enum": ["LeaderCreated", "LeaderReady"]},
                "networkConfig": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"subdomainPolicy": {"enum": ["Shared", "UniquePerReplica"]}},
                },
                "rolloutStrategy": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type"],
                    "properties": {
                        "type": {"enum": ["RollingUpdate"]},
                        "rollingUpdateConfiguration": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "partition": {"type": "integer", "minimum": 0},
                                "maxUnavailable": _INT_OR_STRING,
                                "maxSurge": _INT_OR_STRING,
                            },
                        },
                    },
                },
                "leaderWorkerTemplate": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["workerTemplate"],
                    "properties": {
                        "leaderTemplate": {"type": "object"},
                        "workerTemplate": {"type": "object"},
                        "size": _POSITIVE,
                        "restartPolicy": {
                            "enum": [
                                "RecreateGroupOnPodRestart",
                                "RecreateGroupAfterStart",
                                "None",
                                "Default",
                            ]
                        },
                        "subGroupPolicy": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "subGroupPolicyType": {"enum": ["LeaderWorker", "LeaderExcluded"]},
                                "subGroupSize": _POSITIVE,
                            },
                        },
                        "volumeClaimTemplates": {"type": "array", "items": {"type": "object"}},
                        "persistentVolumeClaimRetentionPolicy": {"type": "object"},
                    },
                },
            },
        },
    },
}


def validate_lws(doc: dict[str, Any], version: str) -> None:
    jsonschema.Draft202012Validator(LWS_SCHEMA).validate(doc)
    name = doc["metadata"]["name"]
    # its metadata is an ObjectMeta: checked as a ConfigMap's
    validate_core({"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}, version)
    templates = doc["spec"]["leaderWorkerTemplate"]
    for key in ("leaderTemplate", "workerTemplate"):
        if key in templates:
            validate_core(as_pod_template(templates[key], f"{name}-{key.lower()}"), version)


def validate_any(doc: dict[str, Any], version: str) -> None:
    if doc["kind"] == "LeaderWorkerSet":
        validate_lws(doc, version)
    else:
        validate_core(doc, version)


def test_kubernetes_validate_works_offline_and_rejects_a_misspelled_field() -> None:
    """The validator is not vacuous: a field Kubernetes does not know fails in strict mode, and
    so does a field of the wrong type inside a LeaderWorkerSet's pod template."""
    deployment = json.loads(json.dumps(named("Deployment", "stepaudio-api")))
    validate_core(deployment, KUBERNETES_VERSIONS[-1])
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(AssertionError, match="imagePullPolicyy"):
        validate_core(deployment, KUBERNETES_VERSIONS[-1])

    lws = json.loads(json.dumps(named("LeaderWorkerSet", "sglang-chat")))
    lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["ports"] = 3
    with pytest.raises(AssertionError):
        validate_lws(lws, KUBERNETES_VERSIONS[-1])
    lws = json.loads(json.dumps(named("LeaderWorkerSet", "sglang-chat")))
    lws["spec"]["leaderWorkerTemplate"]["restartPolicy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        validate_lws(lws, KUBERNETES_VERSIONS[-1])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_parses_and_validates(path: Path, version: str) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        validate_any(doc, version)


def test_the_manifests_hold_what_a_gpu_deployment_needs() -> None:
    kinds = {(doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) for _, doc in documents()}
    for wanted in [
        ("apps/v1", "Deployment", "stepaudio-api"),
        ("v1", "Service", "stepaudio-api"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "stepaudio-api"),
        ("v1", "ConfigMap", "stepaudio-api-config"),
        ("v1", "Secret", "stepaudio-secrets"),
        ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "sglang-chat"),
        ("v1", "Service", "sglang-chat"),
        ("apps/v1", "Deployment", "sglang-tts"),
        ("apps/v1", "Deployment", "sglang-tts-router"),
        ("v1", "Service", "sglang-tts"),
        ("apps/v1", "StatefulSet", "postgres"),
        ("v1", "Service", "postgres"),
        ("v1", "PersistentVolumeClaim", "step-audio-models"),
    ]:
        assert wanted in kinds, f"deploy/kubernetes has no {wanted}"
    # PostgreSQL keeps its data on a claim of its own
    postgres = named("StatefulSet", "postgres")
    assert postgres["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def pod_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, PodTemplateSpec) of every workload, labels as the pods will have them."""
    for kind in ("Deployment", "StatefulSet", "Job"):
        for doc in docs_of(kind):
            yield f"{kind} {doc['metadata']['name']}", doc["spec"]["template"]
    for doc in docs_of("LeaderWorkerSet"):
        templates = doc["spec"]["leaderWorkerTemplate"]
        for key in ("leaderTemplate", "workerTemplate"):
            template = json.loads(json.dumps(templates[key]))
            # the controller adds this label to every pod of the set
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels["leaderworkerset.sigs.k8s.io/name"] = doc["metadata"]["name"]
            yield f"LeaderWorkerSet {doc['metadata']['name']} {key}", template


def containers_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_selectors_match_their_pods() -> None:
    for kind in ("Deployment", "StatefulSet"):
        for doc in docs_of(kind):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            wanted = doc["spec"]["selector"]["matchLabels"]
            assert wanted.items() <= labels.items(), f"{kind} {doc['metadata']['name']}"
    templates = list(pod_templates())
    for service in docs_of("Service"):
        selector = service["spec"]["selector"]
        matched = [
            (owner, t)
            for owner, t in templates
            if selector.items() <= t["metadata"].get("labels", {}).items()
        ]
        assert matched, f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for owner, template in matched:
                ports = [p for c in containers_of(template) for p in c.get("ports", [])]
                names = {p.get("name") for p in ports}
                numbers = {p["containerPort"] for p in ports}
                assert target in names | numbers, (
                    f"Service {service['metadata']['name']} port {target!r}: not a port of {owner}"
                )
    for pdb in docs_of("PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= t["metadata"]["labels"].items() for _, t in templates), (
            f"PodDisruptionBudget {pdb['metadata']['name']} selects no pod"
        )


def test_references_resolve() -> None:
    """ConfigMaps, claims, Secret keys, service accounts and HPA targets that pods and objects
    name are all declared (the Secret by secret.example.yaml, which says how to make it)."""
    config_maps = {d["metadata"]["name"]: d for d in docs_of("ConfigMap")}
    claims = {d["metadata"]["name"] for d in docs_of("PersistentVolumeClaim")}
    secrets = {d["metadata"]["name"]: set(d.get("stringData", {})) for d in docs_of("Secret")}
    accounts = {d["metadata"]["name"] for d in docs_of("ServiceAccount")}
    for owner, template in pod_templates():
        spec = template["spec"]
        if "serviceAccountName" in spec:
            assert spec["serviceAccountName"] in accounts, owner
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for volume in volumes.values():
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, owner
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, owner
        claim_templates = set()
        if owner.startswith("StatefulSet"):
            sts = named("StatefulSet", owner.split()[1])
            claim_templates = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
        for container in containers_of(template):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes.keys() | claim_templates, (
                    f"{owner}: mount {mount['name']!r} has no volume"
                )
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    assert ref["key"] in secrets.get(ref["name"], set()), (
                        f"{owner}: secret {ref['name']} key {ref['key']} is not declared"
                    )
    for hpa in docs_of("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        workload = named(target["kind"], target["name"])
        for container in workload["spec"]["template"]["spec"]["containers"]:
            # a Utilization target needs a request to be a share of
            assert "cpu" in container["resources"]["requests"], hpa["metadata"]["name"]
    for binding in docs_of("RoleBinding"):
        named(binding["roleRef"]["kind"], binding["roleRef"]["name"])
        for subject in binding["subjects"]:
            assert subject["name"] in accounts, binding["metadata"]["name"]


def test_gpu_workloads_ask_for_gpus_and_may_run_on_gpu_nodes() -> None:
    for owner, template in pod_templates():
        gpus = [
            c["resources"].get("limits", {}).get("nvidia.com/gpu") for c in containers_of(template)
        ]
        if not any(gpus):
            continue
        spec = template["spec"]
        assert spec.get("nodeSelector"), f"{owner} asks for GPUs without a nodeSelector"
        assert any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])), owner
    chat = named("LeaderWorkerSet", "sglang-chat")["spec"]["leaderWorkerTemplate"]
    for key in ("leaderTemplate", "workerTemplate"):
        (container,) = chat[key]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
        assert gpus == int(env["GPUS_PER_NODE"])
        # one SGLang server over the whole group: TP x PP = pods x GPUs a pod
        assert int(env["TP_SIZE"]) * int(env["PP_SIZE"]) == chat["size"] * gpus


def test_inline_shell_commands_parse() -> None:
    for owner, template in pod_templates():
        for container in containers_of(template):
            command = container.get("command", [])
            if command[:1] in (["sh"], ["bash"]) and command[1:2] == ["-c"]:
                checked = subprocess.run(
                    [command[0], "-n", "-c", command[2]], capture_output=True, text=True
                )
                assert checked.returncode == 0, f"{owner}: {checked.stderr}"


def test_kustomization_lists_every_manifest_and_image() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    for name in listed:
        assert (KUBERNETES / name).is_file(), f"kustomization.yaml lists a missing {name}"
    on_disk = {p.name for p in manifest_files()}
    assert set(listed) == on_disk - NOT_IN_KUSTOMIZATION
    images = {c["image"].rsplit(":", 1)[0] for _, t in pod_templates() for c in containers_of(t)}
    for image in kustomization["images"]:
        assert image["name"] in images, f"kustomization.yaml sets an unused image {image['name']}"
    namespace = named("Namespace", kustomization["namespace"])
    assert namespace["metadata"]["name"] == kustomization["namespace"]
    for binding in docs_of("RoleBinding"):
        for subject in binding["subjects"]:
            assert (
                subject.get("namespace", kustomization["namespace"]) == kustomization["namespace"]
            )


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed"
)
def test_kustomize_builds_valid_objects() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert {d["kind"] for d in docs} >= {"Deployment", "LeaderWorkerSet", "StatefulSet"}
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "stepaudio", doc["metadata"]["name"]
        validate_any(doc, KUBERNETES_VERSIONS[-1])


# --- the API server's configuration in the cluster ---------------------------------------------


def configmap_toml() -> str:
    return named("ConfigMap", "stepaudio-api-config")["data"]["step-audio.toml"]


def test_configmap_is_configs_step_audio_toml() -> None:
    text = configmap_toml()
    source = REPO / "configs" / "step-audio.toml"
    if source.is_file():
        assert text == source.read_text(encoding="utf-8"), (
            "configmap.yaml's step-audio.toml differs from configs/step-audio.toml: copy it over"
        )
    engines = tomllib.loads(text)["engines"]
    for name in ("step-audio-chat", "step-audio-tts"):
        assert engines[name]["type"] == name
        for key in ("base_url", "model_dir"):
            assert engines[name].get(key), f"engines.{name}.{key}"
        # the released folders, on the models volume the API pods mount
        assert engines[name]["model_dir"].startswith("/models/")


def container_environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet makes it: values from Secrets and the
    downward API stand in as placeholders, $(NAME) refers to a variable defined before."""
    environment: dict[str, str] = {}
    for env in container.get("env", []):
        if "valueFrom" in env:
            environment[env["name"]] = f"from-{env['name'].lower()}"
            continue
        value = re.sub(
            r"\$\(([^)]+)\)", lambda m: environment.get(m.group(1), m.group(0)), env["value"]
        )
        environment[env["name"]] = value
    return environment


def service_urls() -> set[str]:
    return {
        f"http://{s['metadata']['name']}:{p['port']}"
        for s in docs_of("Service")
        for p in s["spec"]["ports"]
    }


def test_api_pod_settings_load_and_reach_the_clusters_servers(tmp_path: Path) -> None:
    """The API container's environment over the ConfigMap's file is a valid configuration
    (every STEPAUDIO_* name is one the server knows), and its engines, database and probes
    point at what the manifests declare."""
    config_file = tmp_path / "step-audio.toml"
    config_file.write_text(configmap_toml(), encoding="utf-8")
    template = named("Deployment", "stepaudio-api")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    environment = container_environment(container)

    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_path = PurePosixPath(environment["STEPAUDIO_CONFIG"])
    config_volume = next(
        v for v in template["spec"]["volumes"] if v["name"] == mounts[str(config_path.parent)]
    )
    config_map = named("ConfigMap", config_volume["configMap"]["name"])
    assert config_path.name in config_map["data"]

    settings = load_settings(config_file, environ=environment)
    urls = service_urls()
    for engine in ("step-audio-chat", "step-audio-tts"):
        assert settings.engines[engine]["base_url"] in urls, (
            f"engines.{engine}.base_url {settings.engines[engine]['base_url']} is no Service"
        )
    assert settings.database_url.startswith(
        "postgresql+asyncpg://stepaudio:from-postgres_password@"
    )
    host_port = settings.database_url.split("@", 1)[1].split("/", 1)[0]
    assert f"http://{host_port}" in urls
    assert settings.server.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert settings.server.port == ports["http"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        path = container[probe]["httpGet"]["path"]
        assert not settings.auth_required or path in settings.auth.public_paths, (
            f"{probe} {path} would need an API key"
        )
    # the data folder and the cache are writable volumes
    assert "/var/lib/stepaudio-api" in mounts and "/var/cache/stepaudio-api" in mounts


def test_dockerfile_environment_is_understood() -> None:
    for dockerfile in sorted(DOCKER.glob("*.Dockerfile")):
        environment = {
            key: value
            for stage in parse_dockerfile(dockerfile)
            for key, value in stage.env.items()
            if key.startswith("STEPAUDIO_")
        }
        load_settings(environ=environment)


# --- SGLang launch scripts -------------------------------------------------------------------

# script -> the --tp-size it must pass, and the other options it must pass with their values
SERVER_SCRIPTS: dict[str, dict[str, str | None]] = {
    "chat-tp8.sh": {"--tp-size": "8"},
    "chat-fp8-tp4.sh": {"--tp-size": "4", "--quantization": "fp8"},
    "chat-multinode.sh": {"--tp-size": "16"},
    "tts.sh": {"--tp-size": "1"},
}
ROUTER_SCRIPTS = {"router.sh"}
# starts several tts.sh and a router.sh, and stops them when it stops
SUPERVISOR_SCRIPTS = {"tts-replicas.sh"}
ALWAYS = {
    "--skip-tokenizer-init": None,
    "--enable-custom-logit-processor": None,
    "--attention-backend": "step1-alibi",
}

STUB = """#!{python}
import json, os, sys, time
records = os.environ["STUB_RECORDS"]
argv = sys.argv[1:]
if "sglang_router.launch_router" in argv:
    # the router starts once the servers started before it have (as they would)
    deadline = time.monotonic() + 20
    wanted = int(os.environ.get("STUB_SERVERS", "0"))
    while time.monotonic() < deadline:
        started = [n for n in os.listdir(records) if n.endswith(".json")]
        if len(started) >= wanted:
            break
        time.sleep(0.02)
path = os.path.join(records, f"{{os.getpid()}}.json")
with open(path + ".tmp", "w") as f:
    json.dump(argv, f)
os.replace(path + ".tmp", path)
time.sleep(float(os.environ.get("STUB_SLEEP", "0")))
"""


def scripts() -> list[Path]:
    return sorted(SGLANG.glob("*.sh"))


def logical_lines(text: str) -> list[str]:
    """The script's lines without comments and blank lines, continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def test_every_script_is_classified() -> None:
    assert {p.name for p in scripts()} == (
        set(SERVER_SCRIPTS) | ROUTER_SCRIPTS | SUPERVISOR_SCRIPTS
    ), "a launch script was added or removed: say here what it must do"


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.name)
def test_script_is_strict_bash_with_documented_variables(script: Path) -> None:
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    # each NAME=${NAME:-default} setting follows a comment saying what it is for
    assignment = re.compile(r"^([A-Z][A-Z0-9_]*)=\$\{\1:-")
    settings = [i for i, line in enumerate(lines) if assignment.match(line)]
    assert settings, f"{script.name} has no settings with defaults"
    for i in settings:
        assert lines[i - 1].startswith("#"), f"{script.name}:{i + 1}: {lines[i]} has no comment"


@pytest.mark.parametrize("script", [*SERVER_SCRIPTS, *ROUTER_SCRIPTS])
def test_script_ends_in_its_launcher(script: str) -> None:
    last = logical_lines((SGLANG / script).read_text(encoding="utf-8"))[-1]
    module = (
        "sglang_router.launch_router"
        if script in ROUTER_SCRIPTS
        else "stepaudio_sglang.launch_server"
    )
    assert shlex.split(last)[:4] == ["exec", "$PYTHON", "-m", module], last
    assert last.endswith('"$@"'), "arguments after the script's name are passed on"


def stub_environment(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """A model folder, the stand-in for Python, and the environment a script runs with (none of
    this process's own variables but PATH: no LWS_* or MODEL_DIR leaks in)."""
    records = tmp_path / "records"
    records.mkdir(exist_ok=True)
    stub = tmp_path / "python-stub"
    stub.write_text(STUB.format(python=sys.executable), encoding="utf-8")
    stub.chmod(0o755)
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}", encoding="utf-8")
    return {
        "PATH": os.environ["PATH"],
        "PYTHON": str(stub),
        "STUB_RECORDS": str(records),
        "MODEL_DIR": str(model),
        **env,
    }


def run_script(
    script: str, tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    environment = stub_environment(tmp_path, env)
    done = subprocess.run(
        ["bash", str(SGLANG / script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, read_records(Path(environment["STUB_RECORDS"]))


def read_records(records: Path) -> list[list[str]]:
    return [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]


def options(argv: list[str]) -> dict[str, str | None]:
    """--flag value pairs (None for a flag without a value); a flag given twice keeps the last."""
    found: dict[str, str | None] = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
            found[argv[i]] = value
            i += 2 if value is not None else 1
        else:
            i += 1
    return found


def check_server_command(argv: list[str], wanted: dict[str, str | None], model: str) -> None:
    assert argv[:2] == ["-m", "stepaudio_sglang.launch_server"], argv
    flags = [a for a in argv[2:] if a.startswith("--")]
    unknown = [f for f in flags if f not in SGLANG_SERVER_FLAGS]
    assert not unknown, f"not flags of sglang.launch_server: {unknown}"
    given = options(argv[2:])
    assert given["--model-path"] == model
    for flag, value in {**ALWAYS, **wanted}.items():
        assert flag in given, f"{flag} missing from {argv}"
        assert given[flag] == value, f"{flag} {given[flag]!r}, expected {value!r}"


@pytest.mark.parametrize("script", ["chat-tp8.sh", "chat-fp8-tp4.sh", "tts.sh"])
def test_single_node_server_script(script: str, tmp_path: Path) -> None:
    done, records = run_script(script, tmp_path, {}, "--log-requests")
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(argv, SERVER_SCRIPTS[script], str(tmp_path / "model"))
    assert argv[-1] == "--log-requests"
    given = options(argv)
    assert given["--host"] == "0.0.0.0"
    assert given["--port"] == ("30001" if script == "tts.sh" else "30000")


def test_server_script_refuses_a_folder_without_config(tmp_path: Path) -> None:
    done, records = run_script("chat-tp8.sh", tmp_path, {"MODEL_DIR": str(tmp_path / "nothing")})
    assert done.returncode != 0 and "config.json" in done.stderr
    assert records == []


def test_multinode_script_under_a_leaderworkerset(tmp_path: Path) -> None:
    env = {"LWS_LEADER_ADDRESS": "sglang-chat-0.sglang-chat", "LWS_WORKER_INDEX": "1",
           "LWS_GROUP_SIZE": "2"}  # fmt: skip
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(
        argv,
        {"--tp-size": "16", "--nnodes": "2", "--node-rank": "1",
         "--dist-init-addr": "sglang-chat-0.sglang-chat:20000"},
        str(tmp_path / "model"),
    )  # fmt: skip
    assert "--pp-size" not in argv


def test_multinode_script_with_pipeline_stages(tmp_path: Path) -> None:
    env = {"NODE_RANK": "0", "DIST_INIT_ADDR": "10.0.0.1:20000", "TP_SIZE": "8", "PP_SIZE": "2"}
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(
        argv,
        {"--tp-size": "8", "--pp-size": "2", "--nnodes": "2", "--node-rank": "0",
         "--dist-init-addr": "10.0.0.1:20000"},
        str(tmp_path / "model"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIST_INIT_ADDR": "10.0.0.1:20000"}, "NODE_RANK"),
        ({"NODE_RANK": "0"}, "DIST_INIT_ADDR"),
        ({"NODE_RANK": "2", "DIST_INIT_ADDR": "a:1"}, "not in 0..1"),
        ({"NODE_RANK": "0", "DIST_INIT_ADDR": "a:1", "TP_SIZE": "8"}, "TP_SIZE 8 x PP_SIZE 1"),
    ],
)
def test_multinode_script_refuses_an_incomplete_group(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode != 0
    assert message in done.stderr
    assert records == []


def check_router_command(argv: list[str]) -> dict[str, str | None]:
    assert argv[:2] == ["-m", "sglang_router.launch_router"], argv
    unknown = [a for a in argv[2:] if a.startswith("--") and a not in SGLANG_ROUTER_FLAGS]
    assert not unknown, f"not flags of sglang_router.launch_router: {unknown}"
    given = options(argv[2:])
    assert given["--policy"] == "cache_aware"
    return given


def test_router_script_with_worker_urls(tmp_path: Path) -> None:
    env = {"WORKER_URLS": "http://gpu-1:30001 http://gpu-2:30001"}
    done, records = run_script("router.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_router_command(argv)
    start = argv.index("--worker-urls") + 1
    assert argv[start : start + 2] == ["http://gpu-1:30001", "http://gpu-2:30001"]
    assert "--service-discovery" not in argv


def test_router_script_with_service_discovery(tmp_path: Path) -> None:
    env = {"SERVICE_DISCOVERY_SELECTOR": "app.kubernetes.io/name=sglang-tts",
           "SERVICE_DISCOVERY_NAMESPACE": "stepaudio"}  # fmt: skip
    done, records = run_script("router.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    given = check_router_command(argv)
    assert "--service-discovery" in given and "--worker-urls" not in given
    assert given["--selector"] == "app.kubernetes.io/name=sglang-tts"
    assert given["--service-discovery-port"] == "30001"
    assert given["--service-discovery-namespace"] == "stepaudio"


def test_router_script_needs_its_servers(tmp_path: Path) -> None:
    done, records = run_script("router.sh", tmp_path, {})
    assert done.returncode != 0 and "WORKER_URLS" in done.stderr
    assert records == []


def test_tts_replicas_start_servers_and_a_router(tmp_path: Path) -> None:
    env = {"REPLICAS": "3", "FIRST_GPU": "4", "STUB_SERVERS": "3"}
    done, records = run_script("tts-replicas.sh", tmp_path, env, "--log-requests")
    assert done.returncode == 0, done.stderr
    servers = [r for r in records if "stepaudio_sglang.launch_server" in r]
    routers = [r for r in records if "sglang_router.launch_router" in r]
    assert len(servers) == 3 and len(routers) == 1
    urls = []
    for argv in servers:
        check_server_command(argv, SERVER_SCRIPTS["tts.sh"], str(tmp_path / "model"))
        given = options(argv)
        assert given["--host"] == "127.0.0.1"
        urls.append((given["--base-gpu-id"], f"http://127.0.0.1:{given['--port']}"))
        assert argv[-1] == "--log-requests"
    assert sorted(gpu for gpu, _ in urls) == ["4", "5", "6"]
    (router,) = routers
    given = check_router_command(router)
    assert given["--port"] == "30001"
    start = router.index("--worker-urls") + 1
    assert sorted(router[start : start + 3]) == sorted(url for _, url in urls)


def test_tts_replicas_stop_their_servers_when_stopped(tmp_path: Path) -> None:
    environment = stub_environment(
        tmp_path, {"REPLICAS": "2", "STUB_SERVERS": "2", "STUB_SLEEP": "60"}
    )
    records = Path(environment["STUB_RECORDS"])
    process = subprocess.Popen(["bash", str(SGLANG / "tts-replicas.sh")], env=environment)
    try:
        deadline = time.monotonic() + 20
        while len(list(records.glob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = [int(p.stem) for p in records.glob("*.json")]
        assert len(started) == 3, "two servers and the router did not all start"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) != 0
        deadline = time.monotonic() + 10
        alive = started
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in started if is_running(pid)]
            time.sleep(0.05)
        assert not alive, f"processes left running: {alive}"
    finally:
        if process.poll() is None:
            process.kill()
        for path in records.glob("*.json"):
            if is_running(int(path.stem)):
                os.kill(int(path.stem), signal.SIGKILL)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child of this process that has exited but not been reaped yet is not running
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_manifests_run_scripts_the_sglang_image_has() -> None:
    stages = parse_dockerfile(DOCKER / "sglang.Dockerfile")
    copied = {dest: source for stage in stages for source, dest in stage.copies}
    image_scripts = PurePosixPath("/opt/stepaudio/sglang")
    assert copied.get(str(image_scripts)) == "deploy/sglang"
    for owner, template in pod_templates():
        for container in containers_of(template):
            if not container["image"].startswith("stepaudio-sglang"):
                continue
            command = PurePosixPath(container["command"][0])
            assert command.parent == image_scripts, owner
            assert (SGLANG / command.name).is_file(), f"{owner} runs a missing {command.name}"


# --- Dockerfiles -----------------------------------------------------------------------------


class Stage:
    def __init__(self, base: str, name: str | None) -> None:
        self.base = base
        self.name = name
        self.workdir = PurePosixPath("/")
        # (repository path, absolute path in the image) of each COPY from the build context
        self.copies: list[tuple[str, str]] = []
        self.env: dict[str, str] = {}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    instructions = []
    for line in logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def parse_dockerfile(path: Path) -> list[Stage]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            stages.append(Stage(base, words[2] if len(words) == 3 else None))
        elif not stages:
            raise AssertionError(f"{path.name}: {keyword} before FROM")
        else:
            stage = stages[-1]
            if keyword == "WORKDIR":
                stage.workdir = stage.workdir / rest
            elif keyword == "ENV":
                for word in shlex.split(rest):
                    key, _, value = word.partition("=")
                    stage.env[key] = value
            elif keyword == "COPY":
                words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
                flags = [w for w in words if w.startswith("--")]
                paths = [w for w in words if not w.startswith("--")]
                if any(f.startswith("--from=") for f in flags):
                    source_stage = next(f for f in flags if f.startswith("--from="))[7:]
                    assert source_stage in {s.name for s in stages[:-1]}, (
                        f"{path.name}: COPY --from={source_stage}: no such stage"
                    )
                    continue
                *sources, dest = paths
                target = stage.workdir / dest
                for source in sources:
                    inside = target / Path(source).name if dest.endswith("/") else target
                    stage.copies.append((source, str(inside)))
    return stages


def ignore_patterns(dockerfile: Path) -> list[str]:
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert ignore.is_file(), f"{dockerfile.name} has no {ignore.name}"
    return [
        line.strip()
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def ignored(path: str, patterns: list[str]) -> bool:
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatchcase(part, tail) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def dockerfiles() -> list[Path]:
    return sorted(DOCKER.glob("*.Dockerfile"))


def test_the_three_images_are_there() -> None:
    assert {p.name for p in dockerfiles()} == {
        "api.Dockerfile",
        "api-gpu.Dockerfile",
        "sglang.Dockerfile",
    }
    (sglang,) = parse_dockerfile(DOCKER / "sglang.Dockerfile")
    assert sglang.base.startswith("lmsysorg/sglang:"), sglang.base
    assert ("plugins/stepaudio-sglang", "/opt/stepaudio/plugins/stepaudio-sglang") in sglang.copies
    gpu_sources = {
        s for stage in parse_dockerfile(DOCKER / "api-gpu.Dockerfile") for s, _ in stage.copies
    }
    # the codec and the engines configs/step-audio.toml declares
    assert {"plugins/stepaudio-codec", "plugins/stepaudio-step-audio"} <= gpu_sources
    cpu_sources = {
        s for stage in parse_dockerfile(DOCKER / "api.Dockerfile") for s, _ in stage.copies
    }
    assert "plugins/stepaudio-codec" not in cpu_sources, "the CPU image leaves torch out"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.name)
def test_dockerfile_copies_only_what_the_repository_has(dockerfile: Path) -> None:
    """Every COPY source exists and is not excluded by the Dockerfile's ignore file, and every
    link inside a copied folder (stepaudio_api/migrations, stepaudio_api/default.toml) points
    at something the same stage copied too, so that the build finds it."""
    patterns = ignore_patterns(dockerfile)
    instructions = dockerfile_instructions(dockerfile)
    assert "ADD" not in {keyword for keyword, _ in instructions}, "COPY, not ADD"
    for stage in parse_dockerfile(dockerfile):
        for source, _ in stage.copies:
            assert (REPO / source).exists(), f"{dockerfile.name}: COPY of a missing {source}"
            assert not ignored(source, patterns), f"{dockerfile.name}: {source} is ignored"
        for source, inside in stage.copies:
            root = REPO / source
            if not root.is_dir():
                continue
            for link in [p for p in root.rglob("*") if p.is_symlink()]:
                relative = link.relative_to(root).as_posix()
                if ignored(link.relative_to(REPO).as_posix(), patterns):
                    continue
                target_in_repo = (link.parent / os.readlink(link)).resolve()
                assert target_in_repo.exists(), f"{link} points nowhere"
                target = os.path.normpath(
                    PurePosixPath(inside, relative).parent / os.readlink(link)
                )
                assert any(
                    target == dest or target.startswith(dest + "/") for _, dest in stage.copies
                ), f"{dockerfile.name}: {source}/{relative} points at {target}, not copied"
