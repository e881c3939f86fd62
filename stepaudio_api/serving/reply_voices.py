"""Which voices speak a spoken reply, sentence by sentence, as /v1/audio/speech routes its
input: a sentence the reply's voice cannot read (Chinese from an English voice) is spoken by
a voice of its language found through the dialect packs, a mixed one in runs. A sentence no
voice here reads is left to the reply's own voice: the text of the reply is already sent, so
a refusal would only cut its audio short."""

from __future__ import annotations

from dataclasses import dataclass

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.speech_plan import SpeechPlan
from stepaudio_api.serving.speech_routing import SpeechRoute
from stepaudio_api.serving.speech_style import SpeechStyle


@dataclass(frozen=True, slots=True)
class ReplyPiece:
    text: str
    route: SpeechRoute | None
    """None for the reply's own voice."""
    style: SpeechStyle


class ReplyVoices:
    def __init__(self, speech: SpeechServing, route: SpeechRoute, style: SpeechStyle) -> None:
        self.speech = speech
        self.route = route
        self.style = style

    def pieces(self, sentence: str) -> list[ReplyPiece]:
        try:
            parts = self.speech.scripts.parts(self.route, sentence, self.style)
        except InvalidRequest:
            return [ReplyPiece(sentence, None, self.style)]
        return [
            ReplyPiece(p.text, None if p.route == self.route else p.route, p.style) for p in parts
        ]

    async def plan(self, piece: ReplyPiece) -> SpeechPlan:
        """A new plan for the piece's voice (each voice's shaping starts afresh)."""
        if piece.route is None:
            return await self.speech.plan(self.route, self.style)
        return await self.speech.plan(piece.route, piece.style)
