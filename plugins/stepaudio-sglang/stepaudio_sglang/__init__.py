"""Step-Audio's Step-1 decoder for SGLang, and what proves it without a GPU.

- ``config``: the released ``config.json`` of Step-Audio-Chat / Step-Audio-TTS-3B.
- ``alibi``: the sqrt-ALiBi slopes and bias, and how tensor parallelism slices heads.
- ``repetition``: the TTS-3B repetition rule (the last token is banned when it repeats).
- ``reference``: Step-1 in plain PyTorch over a released folder (the tests' ground truth).
- ``attention``: sqrt-ALiBi attention over a paged KV cache, a torch path and a Triton kernel.
- ``sglang_model`` / ``sglang_backend`` / ``logit_processor`` / ``launch_server``: SGLang's side
  (imported only where SGLang is installed).
- ``standin``: a stand-in SGLang server for tests, speaking SGLang's ``/generate`` exactly and
  generating with the reference model.
"""

__version__ = "0.1.0"
