"""The API server's configuration in the cluster and in its images: the ConfigMap's file is
configs/step-audio.toml, the API pod's environment over it loads and points at the manifests'
Services and probes, and the Dockerfiles' STEPAUDIO_* variables are ones the server knows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

from deploy_dockerfiles import dockerfiles, parse_dockerfile
from deploy_files import REPO
from deploy_kubernetes import docs_of, named

from stepaudio_api.settings import load_settings


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
    for dockerfile in dockerfiles():
        environment = {
            key: value
            for stage in parse_dockerfile(dockerfile)
            for key, value in stage.env.items()
            if key.startswith("STEPAUDIO_")
        }
        load_settings(environ=environment)
