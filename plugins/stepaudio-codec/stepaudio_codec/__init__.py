"""stepaudio-codec: Step-Audio's codec for stepaudio-api, in PyTorch. The dual-codebook tokenizer
(vq02 from FunASR's streaming Paraformer encoder, vq06 from CosyVoice's speech tokenizer) and
the flow-matching + HiFT decoder, loaded from the model folders exactly as released.

Nothing here imports torch until an engine loads or a command runs: the server with only the
embedded engines configured stays small."""

from typing import Any

from stepaudio_api import hookimpl


@hookimpl
def register_engines(register: Any) -> None:
    from stepaudio_codec.engine import StepAudioCodec

    register(StepAudioCodec)


@hookimpl
def register_commands(cli: Any) -> None:
    from stepaudio_codec.cli import codec, dev

    cli.add_command(codec)
    cli.add_command(dev)
