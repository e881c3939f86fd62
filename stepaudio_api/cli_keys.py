"""`stepaudio-api keys create | list | revoke`."""

from __future__ import annotations

import datetime as dt
import sys

import click

from stepaudio_api.cli_support import load_or_exit, with_database
from stepaudio_api.store.api_keys import ApiKeyStore, CreatedKey
from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ApiKey


@click.group()
def keys() -> None:
    """API keys (the secret is shown once; only its hash is stored)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--admin", is_flag=True, help="Admin scope: may call the /admin routes.")
@click.option(
    "--quota-characters",
    type=click.IntRange(min=0),
    help="Characters of speech a calendar month (default unlimited).",
)
@click.option(
    "--quota-audio-seconds",
    type=click.FloatRange(min=0),
    help="Seconds of audio transcribed a calendar month (default unlimited).",
)
@click.option("--config", "config_file", default=None)
def create(
    name: str,
    admin: bool,
    quota_characters: int | None,
    quota_audio_seconds: float | None,
    config_file: str | None,
) -> None:
    """Create a key and print its secret alone on the last line."""

    async def work(database: Database) -> CreatedKey:
        store = ApiKeyStore(database)
        scope = "admin" if admin else "user"
        return await store.create(name, scope, quota_characters, quota_audio_seconds)

    created = with_database(load_or_exit(config_file), work)
    click.echo(f"created {created.key.scope} key {created.key.id} ({name}); "
               "the secret is shown only now:", err=True)  # fmt: skip
    click.echo(created.secret)


def _quota(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:g}"


@keys.command("list")
@click.option("--config", "config_file", default=None)
def list_keys(config_file: str | None) -> None:
    """List keys (never their secrets)."""

    async def work(database: Database) -> list[ApiKey]:
        return await ApiKeyStore(database).list()

    rows = with_database(load_or_exit(config_file), work)
    click.echo("id\tname\tscope\tkey\tcharacters/month\taudio seconds/month\tcreated\trevoked")
    for key in rows:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        created = key.created_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        click.echo(
            f"{key.id}\t{key.name}\t{key.scope}\t{key.redacted}\t"
            f"{_quota(key.quota_characters)}\t{_quota(key.quota_audio_seconds)}\t"
            f"{created}\t{revoked}"
        )


@keys.command("revoke")
@click.argument("key_id")
@click.option("--config", "config_file", default=None)
def revoke(key_id: str, config_file: str | None) -> None:
    """Revoke a key: it stops working (servers notice within auth.key_cache_seconds)."""

    async def work(database: Database) -> ApiKey | None:
        return await ApiKeyStore(database).revoke(key_id)

    key = with_database(load_or_exit(config_file), work)
    if key is None:
        click.echo(f"error: no key with id {key_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key.id} ({key.name})")
