"""The plugin manager and the register_engines hook."""

from __future__ import annotations

import pytest

from stepaudio_api import hookimpl
from stepaudio_api.engines.base import Recognizer, Synthesizer
from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.settings import load_settings


def test_hook_register_engines() -> None:
    pm = get_plugin_manager()
    registered: list[type] = []
    pm.register_all("register_engines", "engines", lambda cls, plugin: registered.append(cls),
                    settings=load_settings(environ={}))  # fmt: skip
    types = {cls.type: cls for cls in registered}
    assert issubclass(types["piper"], Synthesizer)
    assert issubclass(types["faster-whisper"], Recognizer)


def test_a_plugin_can_add_an_engine_type() -> None:
    class SilenceSynthesizer(Synthesizer):
        type = "silence"

        def load(self) -> None:
            pass

        async def synthesize(self, text, options):  # type: ignore[no-untyped-def,override]
            yield  # pragma: no cover

    class Plugin:
        @hookimpl
        def register_engines(self, register):  # type: ignore[no-untyped-def]
            register(SilenceSynthesizer)

    pm = get_plugin_manager()
    pm.manager.register(Plugin(), name="silence-plugin")
    settings = load_settings(environ={"STEPAUDIO_ENGINES__QUIET__TYPE": "silence"})
    registry = EngineRegistry(settings, pm)
    assert isinstance(registry.engines["quiet"], SilenceSynthesizer)
    registry.shutdown()


def test_an_engine_no_plugin_provides_is_unavailable_not_fatal() -> None:
    settings = load_settings(environ={"STEPAUDIO_ENGINES__X__TYPE": "sglang-nope"})
    registry = EngineRegistry(settings, get_plugin_manager())
    assert "x" not in registry.engines and "piper-joe" in registry.engines
    reason = registry.unavailable()["x"]
    assert "no plugin registers engine type 'sglang-nope'" in reason
    for engine_type in ("faster-whisper", "piper"):  # and any installed plugin's
        assert engine_type in reason.split("registered types: ")[1]
    registry.shutdown()


def test_misspelt_hook_is_caught() -> None:
    class Misspelt:
        @hookimpl
        def register_engine(self, register):  # type: ignore[no-untyped-def]
            pass

    pm = get_plugin_manager()
    pm.manager.register(Misspelt())
    with pytest.raises(Exception, match="register_engine"):
        pm.manager.check_pending()


def test_only_limits_which_plugins_load() -> None:
    pm = get_plugin_manager(only=[])
    assert pm.hook.register_engines.get_hookimpls() == []


def test_hook_register_commands() -> None:
    import click
    from click.testing import CliRunner

    from stepaudio_api.cli import cli

    class Plugin:
        @hookimpl
        def register_commands(self, cli):  # type: ignore[no-untyped-def]
            @cli.command()
            @click.argument("name")
            def greet(name: str) -> None:
                click.echo(f"hello {name}")

    class Broken:
        @hookimpl
        def register_commands(self, cli):  # type: ignore[no-untyped-def]
            raise RuntimeError("no commands today")

    group = click.Group("stepaudio-api")
    pm = get_plugin_manager(only=[], extra={"greeter": Plugin(), "broken": Broken()})
    pm.call_each("register_commands", cli=group)
    result = CliRunner().invoke(group, ["greet", "world"])
    assert result.exit_code == 0 and result.output == "hello world\n"
    assert "no commands today" in " ".join(pm.info["broken"].errors)
    # the installed codec plugin's commands are on the real command line, not the stand-ins
    assert "dual-codebook tokens" in (cli.commands["codec"].help or "")
    assert "not installed" not in (cli.commands["dev"].help or "")
