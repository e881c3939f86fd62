"""A stand-in for SGLang at the boundary we cannot run here.

A real HTTP server (uvicorn, on a free localhost port, in a thread) that speaks SGLang 0.5.x's
native API as SGLang does -- ``/generate`` (JSON or server-sent events), ``/abort_request``,
``/health``, ``/health_generate``, ``/get_model_info``, ``/get_server_info`` -- with the same
request checks, error bodies and status codes, finish reasons and ``meta_info``, and generates
with the plain-PyTorch Step-1 reference (``stepaudio_sglang.reference``) on CPU, one request at
a time. It is not SGLang: no batching, no prefix cache (``cached_tokens`` is always 0), no
logprobs, no constrained decoding, no multimodal inputs; such requests are refused with a
message that names the stand-in.

    with running_standin(folder, enable_custom_logit_processor=True) as base_url:
        httpx.post(f"{base_url}/generate", json={"input_ids": [...], "sampling_params": {...}})

Options mirror the server flags that change the wire (``StandinOptions``). A request's
``custom_logit_processor`` is unpickled with a loader that resolves only classes defined in
``stepaudio_sglang.*`` (``processor``).

``python -m stepaudio_sglang.standin FOLDER [--port N] [...]`` serves one in the foreground.
"""

from stepaudio_sglang.standin.server import (
    SGLANG_VERSION,
    StandinOptions,
    StandinServer,
    running_standin,
)

__all__ = ["SGLANG_VERSION", "StandinOptions", "StandinServer", "running_standin"]
