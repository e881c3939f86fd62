from stepaudio_api.cli import cli

cli()
