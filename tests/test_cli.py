"""The stepaudio-api command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from stepaudio_api.cli import cli


def test_plugins_lists_the_default_plugin_and_its_hooks() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "stepaudio_api.default_plugins.embedded_engines 0.1.0: register_engines" in result.output
    assert "engines: piper, faster-whisper" in result.output


def test_serve_with_a_bad_config_exits_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[workers]\nthreads = 0\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "threads" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "stepaudio-api" in result.output


def test_db_upgrade_migrates_to_head_and_says_so(database_url: str) -> None:
    from stepaudio_api.store.migrate import database_revision, head_revision

    for _ in range(2):  # the second run finds it at head and changes nothing
        result = CliRunner().invoke(
            cli, ["db", "upgrade"], env={"STEPAUDIO_DATABASE_URL": database_url}
        )
        assert result.exit_code == 0, result.output
        assert f"is at revision {head_revision()}" in result.output
    assert database_revision(database_url) == head_revision()
    assert "stepaudio:stepaudio@" not in result.output  # the password is not printed
