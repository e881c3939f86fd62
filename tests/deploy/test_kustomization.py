"""deploy/kubernetes/kustomization.yaml: it lists every manifest and image, and what it builds
(made in Python by deploy_kustomize, as `kubectl kustomize` would: no kubectl needed) is valid;
the Python build itself fails where kustomize would, and where the kustomization is wrong."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_files import KUBERNETES
from deploy_kubernetes import (
    KUBERNETES_VERSIONS,
    NOT_IN_KUSTOMIZATION,
    containers_of,
    docs_of,
    manifest_files,
    named,
    pod_templates,
    validate_any,
)
from deploy_kustomize import KustomizeError, build, split_image


def read_kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))


def test_kustomization_lists_every_manifest_and_image() -> None:
    kustomization = read_kustomization()
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


def built_containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "LeaderWorkerSet":
            templates = list(spec["leaderWorkerTemplate"].values())
        else:
            templates = [spec["template"]] if "template" in spec else []
        for template in templates:
            if isinstance(template, dict) and "spec" in template:
                found.extend(containers_of(template))
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kustomization_builds_valid_objects(version: str) -> None:
    docs = build(KUBERNETES)
    assert {d["kind"] for d in docs} >= {"Deployment", "LeaderWorkerSet", "StatefulSet"}
    listed = [
        doc
        for name in read_kustomization()["resources"]
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text(encoding="utf-8"))
        if doc
    ]
    assert len(docs) == len(listed), "the build holds every object of the listed files"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "stepaudio", doc["metadata"]["name"]
        validate_any(doc, version)
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == ["stepaudio"]
    # the images as kustomization.yaml names them
    images_set = read_kustomization()["images"]
    wanted = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in images_set}
    images = {c["image"] for c in built_containers(docs)}
    for image in wanted.values():
        assert image in images, f"no container runs {image}"
    for image in images:
        name, _ = split_image(image)
        assert name not in wanted or image == wanted[name], image


def copy_with(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """deploy/kubernetes copied, its kustomization.yaml as change leaves it."""
    folder = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, folder)
    changed = read_kustomization()
    change(changed)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(changed), encoding="utf-8")
    return folder


def test_the_copy_builds_as_the_original(tmp_path: Path) -> None:
    assert build(copy_with(tmp_path, lambda k: None)) == build(KUBERNETES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda k: k["resources"].append("missing.yaml"), "missing.yaml: no such file"),
        (lambda k: k["resources"].append("api.yaml"), "listed twice"),
        (lambda k: k["resources"].append("../kubernetes-outside.yaml"), "outside"),
        (lambda k: k["resources"].append("."), "folders are not supported"),
        (lambda k: k["resources"].append("https://example.com/a.yaml"), "remote"),
        (lambda k: k["images"].append({"name": "nginx", "newTag": "1"}), "no container uses"),
        (lambda k: k["images"][0].update(newTag=1), "as strings"),
        (lambda k: k["images"][0].update(newTagg="1"), "not supported"),
        (lambda k: k.update(commonLabels={"a": "b"}), "does not know"),
        (lambda k: k.update(patches=[]), "does not know"),
        (lambda k: k.update(kind="Component"), "kind"),
        (lambda k: k.update(namespace=""), "namespace"),
    ],
    ids=[
        "missing-file",
        "file-twice",
        "outside-root",
        "folder",
        "remote",
        "unused-image",
        "untyped-tag",
        "unknown-image-field",
        "common-labels",
        "patches",
        "kind",
        "empty-namespace",
    ],
)
def test_build_refuses_a_broken_kustomization(
    change: Callable[[dict[str, Any]], object], message: str, tmp_path: Path
) -> None:
    (tmp_path / "kubernetes-outside.yaml").write_text("{}", encoding="utf-8")
    with pytest.raises(KustomizeError, match=message):
        build(copy_with(tmp_path, change))


def test_build_refuses_an_object_declared_twice(tmp_path: Path) -> None:
    folder = copy_with(tmp_path, lambda k: k["resources"].append("again.yaml"))
    shutil.copy(folder / "configmap.yaml", folder / "again.yaml")
    with pytest.raises(KustomizeError, match="declared twice"):
        build(folder)


# a kustomization and what kubectl kustomize (kustomize v5.5.0) printed for it
KUSTOMIZE_FIXTURE = """
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: target
resources: [a.yaml]
images:
  - {name: foo, newName: reg/foo, newTag: "2.0"}
  - {name: bar, newTag: "3"}
  - {name: host:5000/baz, newName: qux}
  - {name: dig, newTag: "4", digest: "sha256:ffff"}
"""
FIXTURE_RESOURCES = """
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: elsewhere}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
  - {kind: ServiceAccount, name: none}
  - {kind: ServiceAccount, name: default, namespace: x}
  - {kind: ServiceAccount, name: oth, namespace: elsewhere}
  - {kind: User, name: default, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
subjects:
  - {kind: Group, name: default}
  - {kind: ServiceAccount, name: x, namespace: default}
---
apiVersion: example.com/v1
kind: Thing
metadata: {name: t}
spec:
  template:
    spec:
      containers:
        - {image: "foo:1.0"}
        - {image: foo}
        - {image: "foo@sha256:abcd"}
        - {image: "foobar:1"}
        - {image: "host:5000/baz:7"}
        - {image: "dig:1"}
      initContainers: [{image: "bar:1"}]
      ephemeralContainers: [{image: "foo:1.0"}]
  other: {image: "foo:1.0"}
"""
KUSTOMIZE_PRINTED = """
- {apiVersion: v1, kind: Namespace, metadata: {name: target}}
- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cr}}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: rb, namespace: target}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
  subjects:
    - {kind: ServiceAccount, name: none}
    - {kind: ServiceAccount, name: default, namespace: target}
    - {kind: ServiceAccount, name: oth, namespace: elsewhere}
    - {kind: User, name: default, namespace: target}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: crb}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
  subjects:
    - {kind: Group, name: default, namespace: target}
    - {kind: ServiceAccount, name: x, namespace: default}
- apiVersion: example.com/v1
  kind: Thing
  metadata: {name: t, namespace: target}
  spec:
    template:
      spec:
        containers:
          - {image: "reg/foo:2.0"}
          - {image: "reg/foo:2.0"}
          - {image: "reg/foo:2.0"}
          - {image: "foobar:1"}
          - {image: "qux:7"}
          - {image: "dig:4@sha256:ffff"}
        initContainers: [{image: "bar:3"}]
        ephemeralContainers: [{image: "foo:1.0"}]
    other: {image: "foo:1.0"}
"""


def test_build_transforms_as_kustomize_does(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(KUSTOMIZE_FIXTURE, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(FIXTURE_RESOURCES, encoding="utf-8")
    assert build(tmp_path) == yaml.safe_load(KUSTOMIZE_PRINTED)
