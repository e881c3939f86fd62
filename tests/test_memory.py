"""The embedded server with all its engines loaded stays under 1 GB resident: measured once
it is idle (within a few seconds of the last request the allocator has given back what the
requests freed), after the session's server has served every other test too."""

import time

import psutil


def test_server_resident_memory_under_1_gb(server, client) -> None:  # type: ignore[no-untyped-def]
    # exercise every engine first, so their lazily allocated buffers count
    client.audio.speech.create(model="tts-1", voice="alloy", input="Memory check.").read()
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Memory check.", response_format="wav"
    ).read()
    client.audio.transcriptions.create(model="step-audio-asr", file=("m.wav", audio))
    chinese = client.audio.speech.create(
        model="step-audio-tts-espeak", voice="cmn", input="内存检查。", response_format="wav"
    ).read()
    client.audio.transcriptions.create(model="step-audio-asr-multilingual", file=("m.wav", chinese))
    process, deadline = psutil.Process(server.process.pid), time.monotonic() + 5.0
    while (rss := process.memory_info().rss) >= 1024**3 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert rss < 1024**3, f"{rss / 2**20:.0f} MB"
