"""deploy/kubernetes read and checked offline: its objects, and a validator from Kubernetes' own
OpenAPI schemas (kubernetes-validate bundles them: no cluster, no network) plus a schema of the
one CRD the manifests use, LeaderWorkerSet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from deploy_files import KUBERNETES

# Kubernetes versions whose OpenAPI schemas (bundled by kubernetes-validate, strict: unknown
# fields are errors) every manifest must satisfy: the oldest we document and the newest bundled.
KUBERNETES_VERSIONS = ("1.34", kubernetes_validate.utils.latest_version())
# Manifests in deploy/kubernetes that kustomization.yaml leaves out on purpose.
NOT_IN_KUSTOMIZATION = {"secret.example.yaml", "models-download.yaml"}


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


def copy_of(doc: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(doc))


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


def pod_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, PodTemplateSpec) of every workload, labels as the pods will have them."""
    for kind in ("Deployment", "StatefulSet", "Job"):
        for doc in docs_of(kind):
            yield f"{kind} {doc['metadata']['name']}", doc["spec"]["template"]
    for doc in docs_of("LeaderWorkerSet"):
        templates = doc["spec"]["leaderWorkerTemplate"]
        for key in ("leaderTemplate", "workerTemplate"):
            template = copy_of(templates[key])
            # the controller adds this label to every pod of the set
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels["leaderworkerset.sigs.k8s.io/name"] = doc["metadata"]["name"]
            yield f"LeaderWorkerSet {doc['metadata']['name']} {key}", template


def containers_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]
