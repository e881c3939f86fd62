"""deploy/docker's Dockerfiles read as far as the checks need: each stage's base, working folder,
ENV and COPY from the build context, and the .dockerignore beside each Dockerfile."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path, PurePosixPath

from deploy_files import DOCKER, logical_lines


class Stage:
    def __init__(self, base: str, name: str | None) -> None:
        self.base = base
        self.name = name
        self.workdir = PurePosixPath("/")
        # (repository path, absolute path in the image) of each COPY from the build context
        self.copies: list[tuple[str, str]] = []
        self.env: dict[str, str] = {}


def dockerfiles() -> list[Path]:
    return sorted(DOCKER.glob("*.Dockerfile"))


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
