"""A model folder shipped split across pip packages, joined once into a cache folder.

PyPI caps a file's size, so a model may come as several packages whose ``data/`` folders hold
``model.bin.part1``, ``model.bin.part2``, ... beside the whole small files. Joining them at
every start would cost seconds and the disk twice, so the joined folder is kept in a cache and
reused while every file in it has the size the packages add up to.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

_PART = re.compile(r"^(?P<name>.+)\.part(?P<index>\d+)$")


class SplitModelError(RuntimeError):
    """The packages do not make up a model folder, or the cache cannot be written."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """Each file of the joined folder, with its pieces in order and the size they add up to."""

    pieces: dict[str, list[Path]]

    def size(self, name: str) -> int:
        return sum(piece.stat().st_size for piece in self.pieces[name])


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/stepaudio-api/models``, or ``~/.cache/stepaudio-api/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stepaudio-api" / "models"


def _package_folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SplitModelError(
            f"model package '{package}' is not installed (pip install {package.replace('_', '-')})"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder / "data" if (folder / "data").is_dir() else folder


def _plan(packages: list[str]) -> _Plan:
    numbered: dict[str, dict[int, Path]] = {}
    whole: dict[str, Path] = {}
    for package in packages:
        for path in sorted(_package_folder(package).iterdir()):
            if not path.is_file() or path.suffix in (".py", ".pyc"):
                continue
            match = _PART.match(path.name)
            if match is None:
                if path.name in whole:
                    raise SplitModelError(f"{path.name} is in more than one of {packages}")
                whole[path.name] = path
                continue
            parts = numbered.setdefault(match["name"], {})
            index = int(match["index"])
            if index in parts:
                raise SplitModelError(f"{path.name} is in more than one of {packages}")
            parts[index] = path
    pieces = {name: [path] for name, path in whole.items()}
    for name, parts in numbered.items():
        if name in whole:
            raise SplitModelError(f"{name} is both whole and split in {packages}")
        indexes = sorted(parts)
        if indexes != list(range(1, len(indexes) + 1)):
            raise SplitModelError(
                f"{name}: parts {indexes} of {packages}; expected 1 to {max(indexes)} "
                "(is one of the packages missing or of another version?)"
            )
        pieces[name] = [parts[i] for i in indexes]
    if not pieces:
        raise SplitModelError(f"no model files in {packages}")
    return _Plan(pieces)


def _folder_name(packages: list[str], plan: _Plan) -> str:
    """The packages' names and versions and the files' sizes: an upgrade gets a new folder."""
    digest = hashlib.sha256()
    for package in packages:
        try:
            version = importlib.metadata.version(package.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        digest.update(f"{package}=={version}\n".encode())
    for name in sorted(plan.pieces):
        digest.update(f"{name} {plan.size(name)}\n".encode())
    return f"{packages[0]}-{digest.hexdigest()[:16]}"


def _complete(folder: Path, plan: _Plan) -> bool:
    return all(
        (folder / name).is_file() and (folder / name).stat().st_size == plan.size(name)
        for name in plan.pieces
    )


def _join(plan: _Plan, into: Path) -> None:
    for name, pieces in plan.pieces.items():
        with (into / name).open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as source:
                    shutil.copyfileobj(source, out, 8 * 1024 * 1024)


def joined_model_dir(packages: list[str], cache_dir: Path | None = None) -> Path:
    """The model folder the packages make up, joined into the cache on first use.

    Processes starting together take turns (a file lock) and the later ones find the folder
    made; it is built beside its final place and renamed into it, so a crash never leaves half
    a model where a reader would take it for whole.
    """
    plan = _plan(packages)
    cache_dir = cache_dir or default_cache_dir()
    final = cache_dir / _folder_name(packages, plan)
    if _complete(final, plan):
        return final
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock = (cache_dir / f".{final.name}.lock").open("a")
    except OSError as exc:
        raise SplitModelError(
            f"cannot write the model cache {cache_dir} ({exc}); set the engine's `cache_dir` "
            "option or XDG_CACHE_HOME to a writable folder"
        ) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(final, plan):  # another process made it while this one waited
            return final
        building = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache_dir))
        try:
            _join(plan, building)
            if not _complete(building, plan):
                raise SplitModelError(f"joining {packages} into {building} gave the wrong sizes")
            if final.exists():  # left incomplete by an older crash or a full disk
                shutil.rmtree(final)
            building.rename(final)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return final
