"""`stepaudio-api voices list | add`: cloned voices (voice profiles) from the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import click

from stepaudio_api.cli_support import load_or_exit, migrated_url, with_database
from stepaudio_api.errors import APIError
from stepaudio_api.settings import Settings
from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import VoiceProfile
from stepaudio_api.store.voices import VoiceProfileStore


@click.group()
def voices() -> None:
    """Cloned voices: a reference clip and its transcript, spoken by models that clone."""


@voices.command("list")
@click.option("--config", "config_file", default=None)
def list_voices(config_file: str | None) -> None:
    """List the cloned voices (the engines' built-in voices are in GET /v1/audio/voices)."""

    async def work(database: Database) -> list[VoiceProfile]:
        return await VoiceProfileStore(database).list()

    rows = with_database(load_or_exit(config_file), work)
    click.echo(
        "id\tname\tseconds\tspeech seconds\tlanguage\ttranscript source\tcreated\ttranscript"
    )
    for voice in rows:
        created = voice.created_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        click.echo(
            f"{voice.id}\t{voice.name}\t{voice.duration_seconds:.2f}\t{voice.speech_seconds:.2f}\t"
            f"{voice.language or '-'}\t{voice.transcript_source}\t{created}\t{voice.transcript}"
        )


async def _add(settings: Settings, audio_path: Path, **fields: object) -> VoiceProfile:
    """Build the services; load only the recognizer, and only when it must write the transcript."""
    from stepaudio_api.services import Services

    services = Services.build(settings)
    try:
        model = services.models.by_name.get(settings.voices.transcription_model)
        if not fields.get("transcript") and model is not None:
            await services.engines.start(only=[model.engine_name])
        with audio_path.open("rb") as audio:
            return await services.voices.create_profile(
                audio,
                filename=audio_path.name,
                **fields,  # type: ignore[arg-type]
            )
    finally:
        services.engines.shutdown()
        await services.database.dispose()


@voices.command("add")
@click.argument("name")
@click.option(
    "--audio",
    "audio_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The reference recording: any common format, 2-30 s of one speaker's speech.",
)
@click.option("--text", "transcript", default=None, help="What is said (default: recognized).")
@click.option("--language", default=None, help="The language spoken, e.g. zh or en.")
@click.option("--description", default=None)
@click.option("--denoise/--no-denoise", default=None, help="Remove steady background noise.")
@click.option("--config", "config_file", default=None)
def add(
    name: str,
    audio_path: Path,
    transcript: str | None,
    language: str | None,
    description: str | None,
    denoise: bool | None,
    config_file: str | None,
) -> None:
    """Create a cloned voice from a recording; prints its id alone on the last line."""
    settings = load_or_exit(config_file)
    migrated_url(settings)
    try:
        profile = asyncio.run(
            _add(settings, audio_path, name=name, transcript=transcript, language=language,
                 description=description, denoise=denoise)
        )  # fmt: skip
    except APIError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(
        f"created voice '{profile.name}': {profile.duration_seconds:.2f} s clip "
        f"({profile.speech_seconds:.2f} s of speech, {profile.sample_rate} Hz)"
    )
    click.echo(f"transcript ({profile.transcript_source}): {profile.transcript}")
    click.echo(profile.id)
