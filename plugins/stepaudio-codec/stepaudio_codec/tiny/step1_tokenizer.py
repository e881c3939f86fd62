"""A synthetic stand-in for the Step-1 SentencePiece ``tokenizer.model`` (and its
``tokenizer_config.json``) with the released id layout, so prompt building, audio-token parsing
and serving can be tested without the real vocabulary.

The released model (as public ports of the Step-1 family's tokenizer describe it) is a UNIGRAM
SentencePiece model of 74752 pieces with byte fallback: ids 0-67 special (``<unk>`` 0, ``<s>``
1, ``</s>`` 2, ``<|EOT|>`` 3, ``<|BOT|>`` 4), the 256 byte pieces at 68-323 (so ``"\\n"``
encodes to ``<0x0A>`` = 78), text pieces up to 65535, then ``<audio_0>`` ..
``<audio_5119>`` at 65536-70655 (vq02 code c is ``<audio_c>``, vq06 code c is
``<audio_{1024 + c}>``) and 4096 more reserved ids to 74751. We keep that layout, put a few
English and Chinese words among the text ids and fill the rest with UNUSED pieces.

The ModelProto is serialised by hand (a few protobuf fields): the ``sentencepiece_model_pb2``
module shipped with sentencepiece refuses to import under older protobuf runtimes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from stepaudio_codec.step1_folder import (
    AUDIO_TOKEN_BASE,
    BOS_ID,
    BOT_ID,
    EOT_ID,
    NUM_AUDIO_TOKENS,
    VOCAB_SIZE,
)

UNK_ID, SP_EOS_ID = 0, 2  # SentencePiece's own <unk> and </s>
NUM_SPECIAL = 68  # ids 0-67; the byte pieces follow

# SentencePiece piece types (sentencepiece_model.proto)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_SPACE = "\u2581"

_ENGLISH_WORDS = (
    "the a an and to of in is it you I we he she they this that what with for on are be "
    "hello world human assistant system speak speaker voice audio text song sing rap please "
    "say read slow fast happy sad angry yes no thank thanks good morning how today weather"
).split()
_CHINESE_WORDS = (
    "你好 你 好 我 是 的 了 在 有 人 这 中 大 为 上 个 国 说 们 和 请 用 声 音 唱 哼 歌 "
    "高兴 悲伤 生气 撒娇 中文 英文 日语 韩语 粤语 四川话 广东话 慢速 快速 说唱 谢谢 今天 天气"
).split()
_PUNCTUATION = [*".,!?:;'\"()-[]", "，", "。", "！", "？", "（", "）", "、", "："]


def step1_pieces() -> list[tuple[str, float, int]]:
    """All ``VOCAB_SIZE`` (piece, score, type) entries in id order."""
    pieces: list[tuple[str, float, int]] = [
        ("<unk>", 0.0, _UNKNOWN),
        ("<s>", 0.0, _CONTROL),
        ("</s>", 0.0, _CONTROL),
        ("<|EOT|>", 0.0, _USER_DEFINED),
        ("<|BOT|>", 0.0, _USER_DEFINED),
    ]
    pieces += [(f"<|reserved_{i}|>", 0.0, _CONTROL) for i in range(len(pieces), NUM_SPECIAL)]
    pieces += [(f"<0x{byte:02X}>", 0.0, _BYTE) for byte in range(256)]
    # Whole words score above the sum of their parts, so Viterbi prefers them.
    words = [_SPACE + w for w in _ENGLISH_WORDS] + _ENGLISH_WORDS + _CHINESE_WORDS
    singles = [
        _SPACE,
        *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        *_PUNCTUATION,
    ]
    seen: set[str] = set()
    for rank, word in enumerate(words + singles):
        if word in seen:
            continue
        seen.add(word)
        single = len(word.lstrip(_SPACE)) <= 1
        pieces.append((word, (-10.0 if single else -3.0) - rank * 1e-3, _NORMAL))
    pieces += [(f"<unused_{i}>", 0.0, _UNUSED) for i in range(len(pieces), AUDIO_TOKEN_BASE)]
    pieces += [(f"<audio_{n}>", 0.0, _USER_DEFINED) for n in range(NUM_AUDIO_TOKENS)]
    pieces += [(f"<|reserved_{i}|>", 0.0, _CONTROL) for i in range(len(pieces), VOCAB_SIZE)]
    return pieces


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def _field(number: int, value: bytes | str | int | bool | float) -> bytes:
    """One protobuf field: bytes/str length-delimited, float as fixed32, int/bool as varint."""
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    return _varint(number << 3) + _varint(int(value))


def step1_model_proto() -> bytes:
    """The serialised ``ModelProto``: pieces, a UNIGRAM trainer spec with byte fallback and the
    Llama-style ids (unk 0, bos 1, eos 2, no pad), and an identity normaliser that keeps
    newlines (they become ``<0x0A>``) and adds the dummy ``▁`` prefix."""
    body = b"".join(
        _field(1, _field(1, piece) + _field(2, score) + _field(3, kind))
        for piece, score, kind in step1_pieces()
    )
    trainer = b"".join(
        [
            _field(3, 1),
            _field(4, VOCAB_SIZE),
            _field(35, True),
            _field(40, UNK_ID),
            _field(41, BOS_ID),
            _field(42, SP_EOS_ID),
            _field(43, -1),
            _field(45, "<unk>"),
            _field(46, "<s>"),
            _field(47, "</s>"),
            _field(48, "<pad>"),
        ]
    )
    normalizer = _field(1, "identity") + _field(3, True) + _field(4, False) + _field(5, True)
    return body + _field(2, trainer) + _field(3, normalizer)


def write_step1_tokenizer_model(path: Path) -> None:
    """Write ``tokenizer.model``."""
    Path(path).write_bytes(step1_model_proto())


def step1_tokenizer_config(chat: bool) -> dict[str, Any]:
    """``tokenizer_config.json`` for the slow ``LlamaTokenizer`` over ``tokenizer.model``. Chat's
    prompts start with ``<s>`` through the tokenizer (``stepaudio.py`` encodes the rendered chat
    as is) and carry the chat template ``<|BOT|>{role}\\n{content}<|EOT|>`` (``user`` spelled
    ``human``); TTS-3B's ``tts.py`` puts ``<s>`` in by hand, so it adds none."""
    specials = {
        UNK_ID: "<unk>",
        BOS_ID: "<s>",
        SP_EOS_ID: "</s>",
        EOT_ID: "<|EOT|>",
        BOT_ID: "<|BOT|>",
    }
    config: dict[str, Any] = {
        "add_bos_token": chat,
        "add_eos_token": False,
        "added_tokens_decoder": {
            str(i): {
                "content": text,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for i, text in specials.items()
        },
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": True,
        "model_max_length": 32768,
        "pad_token": "<unk>",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
    }
    if chat:
        config["chat_template"] = (
            "{% for message in messages %}"
            "{% set role = 'human' if message['role'] == 'user' else message['role'] %}"
            "{{ '<|BOT|>' + role + '\\n' + message['content'] + '<|EOT|>' }}"
            "{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|BOT|>assistant\\n' }}{% endif %}"
        )
    return config
