"""SGLang's external model package for Step-1 (``SGLANG_EXTERNAL_MODEL_PACKAGE``).

SGLang imports every module of this package and registers each ``EntryClass`` under its class
name, the ``architectures`` entry of ``config.json``: :mod:`.step1` holds ``Step1ForCausalLM``.
Nothing is imported here, so the package imports where SGLang is not installed.
"""
