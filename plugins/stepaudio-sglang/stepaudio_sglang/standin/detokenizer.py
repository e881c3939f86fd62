"""The folder's tokenizer as SGLang's HF tokenizer sees it, and SGLang's incremental detokenizer.

``StandinTokenizer`` reads ``tokenizer_config.json`` where the folder has one: ``add_bos_token``
(what HF's ``tokenizer.encode(text)`` prepends; LlamaTokenizer's default is True), the
``eos_token`` (SGLang also stops at the tokenizer's eos), and the special ids that
``skip_special_tokens`` drops.

``IncrementalDecoder`` is SGLang's ``DetokenizerManager.handle_batch_token_id_out`` for one
request: it decodes the output with up to 5 prompt ids of context in front
(``INIT_INCREMENTAL_DETOKENIZATION_OFFSET``), holds back text ending in an incomplete
character (U+FFFD) or an unfinished word, trims the matched stop (a stop string's first
occurrence, or the stop token) unless ``no_stop_trim``, and hands out only what is new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stepaudio_sglang.reference import Step1Tokenizer

SURROUNDING_PROMPT_IDS = 5


class StandinTokenizer:
    def __init__(self, folder: Path) -> None:
        self.inner = Step1Tokenizer.from_folder(folder)
        sp = self.inner.processor
        config: dict[str, Any] = {}
        path = Path(folder) / "tokenizer_config.json"
        if path.is_file():
            config = json.loads(path.read_text(encoding="utf-8"))
        self.add_bos = bool(config.get("add_bos_token", True))
        self.bos_token_id = int(sp.bos_id())
        eos = config.get("eos_token")
        eos_id = sp.piece_to_id(eos) if isinstance(eos, str) else sp.eos_id()
        self.eos_token_id: int | None = int(eos_id) if eos_id >= 0 else None
        special = {int(i) for i, t in config.get("added_tokens_decoder", {}).items()
                   if t.get("special")}  # fmt: skip
        special |= {i for i in (sp.bos_id(), sp.eos_id(), sp.unk_id(), sp.pad_id()) if i >= 0}
        self.special_ids = frozenset(special)

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        ids = self.inner.encode(text)
        bos = self.add_bos if add_bos is None else add_bos
        return [self.bos_token_id, *ids] if bos else ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        if skip_special_tokens:
            ids = [i for i in ids if i not in self.special_ids]
        return self.inner.decode(ids)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(
        low <= code <= high
        for low, high in (
            (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
        )
    )  # fmt: skip


def printable_prefix(text: str) -> str:
    """``sglang.utils.find_printable_text``: whole words only, unless a newline or CJK ends it."""
    if text.endswith("\n"):
        return text
    if text and _is_cjk(text[-1]):
        return text
    if len(text) > 1 and _is_cjk(text[-2]):
        return text[:-1]
    return text[: text.rfind(" ") + 1]


def trim_matched_stop(
    output: str | list[int], finish_reason: dict[str, Any] | None, no_stop_trim: bool
) -> str | list[int]:
    if no_stop_trim or not finish_reason:
        return output
    matched = finish_reason.get("matched")
    if isinstance(matched, str) and matched and isinstance(output, str):
        position = output.find(matched)
        return output[:position] if position != -1 else output
    if isinstance(matched, int) and not isinstance(matched, bool) and isinstance(output, list):
        return output[:-1]
    return output


class IncrementalDecoder:
    def __init__(
        self, tokenizer: StandinTokenizer, prompt_ids: list[int], skip_special_tokens: bool
    ) -> None:
        self.tokenizer = tokenizer
        self.skip = skip_special_tokens
        context = list(prompt_ids[-SURROUNDING_PROMPT_IDS:])
        self.ids = context
        self.decoded_text = ""
        self.surr_offset = 0
        self.read_offset = len(context)
        self.sent_offset = 0

    def step(
        self, new_ids: list[int], finish_reason: dict[str, Any] | None, no_stop_trim: bool
    ) -> str:
        """The text to send for these new output ids (finish_reason set on the last call)."""
        self.ids.extend(new_ids)
        read_ids = trim_matched_stop(self.ids[self.surr_offset :], finish_reason, no_stop_trim)
        surr_text = self.tokenizer.decode(self.ids[self.surr_offset : self.read_offset], self.skip)
        read_text = self.tokenizer.decode(list(read_ids), self.skip)
        new_text = read_text[len(surr_text) :]
        if finish_reason is None:
            if new_text and not new_text.endswith("\ufffd"):
                self.decoded_text += new_text
                self.surr_offset, self.read_offset = self.read_offset, len(self.ids)
                new_text = ""
            else:
                new_text = printable_prefix(new_text)
        output = trim_matched_stop(self.decoded_text + new_text, finish_reason, no_stop_trim)
        assert isinstance(output, str)
        delta = output[self.sent_offset :]
        self.sent_offset = len(output)
        return delta
