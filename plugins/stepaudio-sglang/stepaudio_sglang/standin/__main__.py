"""``python -m stepaudio_sglang.standin FOLDER``: the SGLang stand-in in the foreground."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from stepaudio_sglang.standin.server import StandinOptions, StandinServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stepaudio_sglang.standin",
        description="A stand-in SGLang server (reference Step-1 on CPU) for tests.",
    )
    parser.add_argument("folder", type=Path, help="a Step-Audio-TTS-3B or Step-Audio-Chat folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--skip-tokenizer-init", action="store_true")
    parser.add_argument("--incremental-streaming-output", action="store_true")
    parser.add_argument("--enable-custom-logit-processor", action="store_true")
    parser.add_argument("--context-length", type=int, default=None)
    parser.add_argument("--stream-interval", type=int, default=1)
    parser.add_argument("--random-seed", type=int, default=None)
    args = parser.parse_args(argv)
    options = StandinOptions(
        skip_tokenizer_init=args.skip_tokenizer_init,
        incremental_streaming_output=args.incremental_streaming_output,
        enable_custom_logit_processor=args.enable_custom_logit_processor,
        context_length=args.context_length,
        stream_interval=args.stream_interval,
        random_seed=args.random_seed,
    )
    with StandinServer(args.folder, options).serving(args.host, args.port) as url:
        print(f"SGLang stand-in serving {args.folder} at {url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
