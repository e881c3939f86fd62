"""What `kubectl kustomize deploy/kubernetes` builds, made in Python, so that the build is
checked where kubectl is not installed (CI has none). It knows the fields deploy/kubernetes's
kustomization.yaml uses -- resources (files beside it), namespace, images -- and refuses every
other one rather than ignoring it: a kustomization that starts using labels or patches fails
here until this module learns them.

Each transformation does what kustomize v5 does (compared with kubectl kustomize, kustomize
v5.5.0): the namespace goes on every object but the cluster-scoped ones, a Namespace object is
renamed to it, and a (Cluster)RoleBinding's subject named "default" moves into it; an image
entry rewrites `image` in every containers and initContainers list at any depth (custom
resources' pod templates too), matching the name without tag or digest. Stricter than kustomize
where kustomize is silent about a mistake: an image entry no container uses is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images"}
IMAGE_FIELDS = {"name", "newName", "newTag", "digest"}
# cluster-scoped kinds (those kustomize's namespace transformer leaves without a namespace) a
# deployment might hold; every other kind, custom ones too, is namespaced
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)


class KustomizeError(Exception):
    """The kustomization does not build (or uses what this stand-in does not know)."""


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize folder` prints, in the order the resources list them."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    if not isinstance(kustomization, dict):
        raise KustomizeError("kustomization.yaml is not a mapping")
    if kustomization.get("apiVersion") != "kustomize.config.k8s.io/v1beta1":
        raise KustomizeError(f"apiVersion {kustomization.get('apiVersion')!r}")
    if kustomization.get("kind") != "Kustomization":
        raise KustomizeError(f"kind {kustomization.get('kind')!r}")
    unknown = sorted(set(kustomization) - SUPPORTED_FIELDS)
    if unknown:
        raise KustomizeError(f"fields this stand-in for kustomize does not know: {unknown}")
    objects = load_resources(folder, kustomization.get("resources") or [])
    check_unique(objects, "resources")
    if "namespace" in kustomization:
        set_namespace(objects, kustomization["namespace"])
        check_unique(objects, "namespace transformation")
    if "images" in kustomization:
        set_images(objects, kustomization["images"])
    return objects


def load_resources(folder: Path, resources: Any) -> list[dict[str, Any]]:
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise KustomizeError("resources: not a list of paths")
    if len(resources) != len(set(resources)):
        raise KustomizeError(f"resources: listed twice: {resources}")
    root = folder.resolve()
    objects: list[dict[str, Any]] = []
    for resource in resources:
        if "://" in resource or resource.startswith(("github.com/", "git@")):
            raise KustomizeError(f"resources: {resource}: remote resources are not supported")
        path = (folder / resource).resolve()
        # kustomize's default load restriction: nothing from outside the kustomization's root
        if not path.is_relative_to(root):
            raise KustomizeError(f"resources: {resource} is outside {folder}")
        if path.is_dir():
            raise KustomizeError(f"resources: {resource}: folders are not supported")
        if not path.is_file():
            raise KustomizeError(f"resources: {resource}: no such file")
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is None:
                continue
            if not (
                isinstance(doc, dict)
                and doc.get("apiVersion")
                and doc.get("kind")
                and isinstance(doc.get("metadata"), dict)
                and doc["metadata"].get("name")
            ):
                raise KustomizeError(f"{resource}: an object without apiVersion, kind or name")
            objects.append(doc)
    return objects


def object_id(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    """kustomize's resource id: API group (not version), kind, namespace, name."""
    group = doc["apiVersion"].rpartition("/")[0]
    metadata = doc["metadata"]
    return group, doc["kind"], metadata.get("namespace", ""), metadata["name"]


def check_unique(objects: list[dict[str, Any]], after: str) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for doc in objects:
        key = object_id(doc)
        if key in seen:
            raise KustomizeError(f"{after}: {key} is declared twice")
        seen.add(key)


def set_namespace(objects: list[dict[str, Any]], namespace: Any) -> None:
    if not isinstance(namespace, str) or not namespace:
        raise KustomizeError(f"namespace {namespace!r}")
    for doc in objects:
        metadata = doc["metadata"]
        if doc["kind"] == "Namespace":
            metadata["name"] = namespace
        elif doc["kind"] not in CLUSTER_SCOPED:
            metadata["namespace"] = namespace
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in doc.get("subjects") or []:
                # kustomize's "role binding hack": any subject named default, of any kind
                if subject.get("name") == "default":
                    subject["namespace"] = namespace


def split_image(image: str) -> tuple[str, str]:
    """(name, the rest: ":tag", "@digest", both or none); a registry's :port is the name's."""
    name, at, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon:]
    return name, tag + at + digest


def set_images(objects: list[dict[str, Any]], images: Any) -> None:
    if not isinstance(images, list):
        raise KustomizeError("images: not a list")
    entries: dict[str, dict[str, str]] = {}
    for entry in images:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KustomizeError(f"images: {entry!r} has no name")
        unknown = sorted(set(entry) - IMAGE_FIELDS)
        if unknown:
            raise KustomizeError(f"images: {entry['name']}: fields not supported: {unknown}")
        changes = {k: v for k, v in entry.items() if k != "name"}
        if not changes or not all(isinstance(v, str) and v for v in changes.values()):
            raise KustomizeError(f"images: {entry['name']}: newName, newTag, digest as strings")
        if entry["name"] in entries:
            raise KustomizeError(f"images: {entry['name']} twice")
        entries[entry["name"]] = changes
    used: set[str] = set()

    def rewrite(container: dict[str, Any]) -> None:
        name, rest = split_image(container["image"])
        if name not in entries:
            return
        used.add(name)
        change = entries[name]
        if "newTag" in change or "digest" in change:
            tag = f":{change['newTag']}" if "newTag" in change else ""
            rest = tag + (f"@{change['digest']}" if "digest" in change else "")
        container["image"] = change.get("newName", name) + rest

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for container in value:
                        if isinstance(container, dict) and isinstance(container.get("image"), str):
                            rewrite(container)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for doc in objects:
        walk(doc)
    unused = sorted(set(entries) - used)
    if unused:
        raise KustomizeError(f"images: no container uses {unused}")
