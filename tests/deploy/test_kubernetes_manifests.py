"""deploy/kubernetes's manifests against Kubernetes' own schemas (kubernetes-validate, strict:
unknown fields are errors; the LeaderWorkerSet CRD against its own), offline, and the objects a
GPU deployment needs all there."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from deploy_kubernetes import (
    KUBERNETES_VERSIONS,
    copy_of,
    documents,
    manifest_files,
    named,
    validate_any,
    validate_core,
    validate_lws,
)


def test_kubernetes_validate_works_offline_and_rejects_a_misspelled_field() -> None:
    """The validator is not vacuous: a field Kubernetes does not know fails in strict mode, and
    so does a field of the wrong type inside a LeaderWorkerSet's pod template."""
    deployment = copy_of(named("Deployment", "stepaudio-api"))
    validate_core(deployment, KUBERNETES_VERSIONS[-1])
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(AssertionError, match="imagePullPolicyy"):
        validate_core(deployment, KUBERNETES_VERSIONS[-1])

    lws = copy_of(named("LeaderWorkerSet", "sglang-chat"))
    lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["ports"] = 3
    with pytest.raises(AssertionError):
        validate_lws(lws, KUBERNETES_VERSIONS[-1])
    lws = copy_of(named("LeaderWorkerSet", "sglang-chat"))
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
