"""deploy/kubernetes's objects refer to one another correctly: Services and budgets select pods
with the ports they name, volumes, Secret keys, accounts and HPA targets exist, GPU pods may land
on GPU nodes, inline shell parses, and the SGLang pods run scripts their image has."""

from __future__ import annotations

import subprocess
from pathlib import PurePosixPath

from deploy_dockerfiles import parse_dockerfile
from deploy_files import DOCKER, SGLANG
from deploy_kubernetes import containers_of, docs_of, named, pod_templates


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
