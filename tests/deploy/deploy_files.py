"""Where deploy/ is, and the one parsing its shell scripts and Dockerfiles share."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SGLANG = DEPLOY / "sglang"
DOCKER = DEPLOY / "docker"
# the data files of this folder (the SGLang flag lists)
HERE = Path(__file__).resolve().parent


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
