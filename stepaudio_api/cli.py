"""The `stepaudio-api` command line."""

from __future__ import annotations

import logging
import sys

import click

from stepaudio_api import __version__
from stepaudio_api.cli_keys import keys
from stepaudio_api.cli_support import load_or_exit, migrated_url
from stepaudio_api.cli_voices import voices
from stepaudio_api.settings import SettingsError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.group()
@click.version_option(__version__, prog_name="stepaudio-api")
def cli() -> None:
    """stepaudio-api: an OpenAI-compatible speech server for the Step-Audio model family."""


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from config: 8000).")
@click.option("--config", "config_file", default=None, help="A TOML file overlaid on the defaults.")
def serve(host: str | None, port: int | None, config_file: str | None) -> None:
    """Migrate the database and start the server."""
    from stepaudio_api.app import create_app
    from stepaudio_api.memory import limit_arenas
    from stepaudio_api.server import serve as serve_app
    from stepaudio_api.services import Services

    settings = load_or_exit(config_file)
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    limit_arenas()  # before the engines' threads exist
    migrated_url(settings)
    try:
        services = Services.build(settings)
        app = create_app(services=services)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    serve_app(services, app, host or settings.server.host, port or settings.server.port)


@cli.group()
def db() -> None:
    """The database (STEPAUDIO_DATABASE_URL, default SQLite in the data folder)."""


@db.command("upgrade")
@click.option("--config", "config_file", default=None)
def db_upgrade(config_file: str | None) -> None:
    """Apply every migration (alembic upgrade head)."""
    from stepaudio_api.store.database import redact_url
    from stepaudio_api.store.migrate import database_revision

    url = migrated_url(load_or_exit(config_file))
    click.echo(f"{redact_url(url)} is at revision {database_revision(url)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as /admin/plugins does.")
def plugins(as_json: bool) -> None:
    """List the loaded plugins: version, the hooks each implements, what it registered."""
    import json

    from stepaudio_api.plugins import describe_plugins

    settings = load_or_exit()
    if settings.trace_plugins:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    described = describe_plugins(settings)
    if as_json:
        click.echo(json.dumps(described, indent=2, ensure_ascii=False))
        return
    for plugin in described:
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(f"{plugin['name']}{version}: {', '.join(plugin['hooks']) or 'no hooks'}")
        for kind, names in plugin["registered"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
        for error in plugin["errors"]:
            click.echo(f"    error: {error}")


cli.add_command(keys)
cli.add_command(voices)


def _plugin_commands() -> None:
    """Commands from plugins (``register_commands``); where the codec plugin is missing, its
    commands say how to get it instead of 'No such command'."""
    from stepaudio_api.plugins import get_plugin_manager

    get_plugin_manager().call_each("register_commands", cli=cli)
    for name, what in (("codec", "tokenize and detokenize"), ("dev", "developer tools")):
        if name not in cli.commands:
            cli.add_command(_missing_plugin_command(name, what))


def _missing_plugin_command(name: str, what: str) -> click.Command:
    @click.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"{what.capitalize()} (from the stepaudio-codec plugin, not installed here).",
    )
    def missing() -> None:
        click.echo(
            f"stepaudio-api {name}: comes with the stepaudio-codec plugin (the project's gpu "
            "extra); install it with: pip install -e plugins/stepaudio-codec",
            err=True,
        )
        sys.exit(2)

    return missing


_plugin_commands()
