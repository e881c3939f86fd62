"""The `stepaudio-api` command line."""

from __future__ import annotations

import logging
import sys

import click

from stepaudio_api import __version__
from stepaudio_api.settings import SettingsError, load_settings

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
    """Start the server."""
    import uvicorn

    from stepaudio_api.app import create_app

    try:
        settings = load_settings(config_file)
        logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
        app = create_app(settings)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    uvicorn.run(
        app,
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


@cli.command()
def plugins() -> None:
    """List the loaded plugins and the hooks each implements."""
    from stepaudio_api.plugins import get_plugin_manager

    settings = load_settings()
    pm = get_plugin_manager(settings.plugins)
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"{name}: {', '.join(hooks)}")
