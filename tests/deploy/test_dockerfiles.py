"""deploy/docker's Dockerfiles against the repository they are built from: the three images
copy what they should, every COPY source exists and is not ignored, and links inside copied
folders point at something the same stage copied too."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from deploy_dockerfiles import (
    dockerfile_instructions,
    dockerfiles,
    ignore_patterns,
    ignored,
    parse_dockerfile,
)
from deploy_files import DOCKER, REPO


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
