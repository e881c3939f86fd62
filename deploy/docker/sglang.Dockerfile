# syntax=docker/dockerfile:1
# SGLang with Step-Audio's Step-1 model (plugins/stepaudio-sglang: the model class, the
# sqrt-ALiBi attention backend, `python -m stepaudio_sglang.launch_server`), SGLang's router,
# and the launch scripts of deploy/sglang/ in /opt/stepaudio/sglang. Build from the repository
# root:
#
#   docker build -f deploy/docker/sglang.Dockerfile -t stepaudio-sglang:0.1.0 .
#   docker run --rm --gpus all --ipc=host -p 30001:30001 -v /models:/models:ro \
#       stepaudio-sglang:0.1.0 /opt/stepaudio/sglang/tts.sh
#
# The base is SGLang's official image (CUDA, PyTorch, FlashInfer, sgl-kernel as SGLang tested
# them); stepaudio-sglang asks for sglang >= 0.5.20. Pick another tag with
# --build-arg SGLANG_IMAGE=lmsysorg/sglang:<tag>.

ARG SGLANG_IMAGE=lmsysorg/sglang:v0.5.23
FROM ${SGLANG_IMAGE}

# The image's Python is the system one; let pip install next to SGLang.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
COPY plugins/stepaudio-sglang /opt/stepaudio/plugins/stepaudio-sglang
# Its requirements (torch, numpy, safetensors, sentencepiece) are already in the image, so pip
# keeps the image's builds; sglang-router is the router of router.sh, if the base lacks it.
RUN python3 -m pip install --no-cache-dir /opt/stepaudio/plugins/stepaudio-sglang \
        "sglang-router>=0.3.2"
COPY deploy/sglang /opt/stepaudio/sglang

# 30000: Step-Audio-Chat (chat-*.sh); 30001: Step-Audio-TTS-3B (tts.sh) or the router before it
EXPOSE 30000 30001
CMD ["/opt/stepaudio/sglang/tts.sh"]
