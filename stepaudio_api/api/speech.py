"""POST /v1/audio/speech."""

from __future__ import annotations

from litestar import Request, post
from litestar.response import Stream

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import AUDIO, EVENTS, documented
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.api.streaming import start_streaming
from stepaudio_api.protocol.speech import SpeechRequest


@post(
    "/v1/audio/speech", status_code=200, opt=documented(body=SpeechRequest, answers=AUDIO | EVENTS)
)
async def create_speech(request: Request, services: ServicesDependency) -> Stream:
    speech_request = decode_json_body(await request.body(), SpeechRequest)
    meter = services.meter(caller_of(request), request_id_of(request), "speech")
    return await start_streaming(meter.track(services.speech.create_speech(speech_request, meter)))
