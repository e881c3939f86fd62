"""``python -m stepaudio_sglang.launch_server <SGLang's server arguments>``: SGLang's own server
(its ``ServerArgs`` parsing and ``launch_server``, so every SGLang flag works) with Step-1 in it.

Before handing over it

- sets ``SGLANG_EXTERNAL_MODEL_PACKAGE=stepaudio_sglang.models`` unless it is set, so SGLang's
  model registry finds ``Step1ForCausalLM``;
- registers the ``step1-alibi`` attention backend and a ``model_type: step1`` transformers
  config (for folders loaded without ``--trust-remote-code``) in this process, and again in
  every process SGLang spawns from it (they import this module as ``__mp_main__``);
- adds ``--attention-backend step1-alibi`` unless an attention backend is named, and turns off
  SGLang's CUDA graphs for each phase (decode, prefill) whose CUDA-graph setting is not given,
  since the backend does not capture graphs;
- with ``--enable-custom-logit-processor`` (TTS-3B's repetition rule), adds
  ``--disable-overlap-schedule`` (unless given):
  under the overlap scheduler a processor sees a request's ``output_ids`` one token late (found
  by running SGLang 0.5.23 on CPU), so the rule would judge the wrong window.

Without SGLang it prints that SGLang is not installed and exits with status 2. Where the
package is installed with an entry point in the ``sglang.srt.plugins`` group naming
:func:`sglang_plugin`, ``python -m sglang.launch_server`` / ``sglang serve`` register Step-1 too.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import MutableMapping, Sequence

EXTERNAL_PACKAGE_ENV = "SGLANG_EXTERNAL_MODEL_PACKAGE"
MODELS_PACKAGE = "stepaudio_sglang.models"
BACKEND_NAME = "step1-alibi"  # stepaudio_sglang.sglang_backend.BACKEND_NAME (needs SGLang)
EXIT_NO_SGLANG = 2
NO_SGLANG_MESSAGE = (
    "stepaudio_sglang.launch_server: SGLang is not installed in this Python environment "
    f"({sys.executable}); install it where the server runs: "
    "pip install 'stepaudio-sglang[sglang]'"
)

BACKEND_FLAGS = ("--attention-backend", "--prefill-attention-backend", "--decode-attention-backend")
# per phase: the flags by which a command line already decides that phase's CUDA graphs
_GRAPH_FLAGS_BOTH = ("--cuda-graph-config", "--disable-cuda-graph")
GRAPH_PHASES: dict[str, tuple[tuple[str, ...], str]] = {
    "decode": (
        ("--cuda-graph-backend-decode", "--disable-decode-cuda-graph", *_GRAPH_FLAGS_BOTH),
        "--disable-decode-cuda-graph",
    ),
    "prefill": (
        ("--cuda-graph-backend-prefill", "--disable-prefill-cuda-graph", *_GRAPH_FLAGS_BOTH),
        "--disable-prefill-cuda-graph",
    ),
}

logger = logging.getLogger(__name__)


def _flag_names(argv: Sequence[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")]


def flag_values(argv: Sequence[str], flag: str) -> list[str]:
    """Every value given to ``flag`` (``--flag value`` or ``--flag=value``), in order."""
    values = []
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def server_argv(argv: Sequence[str]) -> list[str]:
    """SGLang's arguments: ``argv`` with this launcher's defaults added (the module docstring)."""
    args = list(argv)
    names = set(_flag_names(args))
    if "--attention-backend" not in names:
        args += ["--attention-backend", BACKEND_NAME]
    for deciding, disable in GRAPH_PHASES.values():
        if not names.intersection(deciding):
            args.append(disable)
    if "--enable-custom-logit-processor" in names and "--disable-overlap-schedule" not in names:
        args.append("--disable-overlap-schedule")
    return args


def foreign_backends(argv: Sequence[str]) -> list[str]:
    """Attention backends named in ``argv`` other than ``step1-alibi`` (they have no ALiBi:
    Step-1 would run without its only position signal)."""
    return [v for flag in BACKEND_FLAGS for v in flag_values(argv, flag) if v != BACKEND_NAME]


def prepare_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Point SGLang's model registry at :mod:`stepaudio_sglang.models` unless the variable is
    set (read when the registry is first imported, in this process and the ones it spawns)."""
    environ.setdefault(EXTERNAL_PACKAGE_ENV, MODELS_PACKAGE)


def sglang_installed() -> bool:
    return importlib.util.find_spec("sglang") is not None


def prepare_process() -> None:
    """Register the attention backend and the ``step1`` config in this process (needs SGLang)."""
    from stepaudio_sglang.models.step1 import register_hf_config
    from stepaudio_sglang.sglang_backend import register_backend

    register_backend()
    register_hf_config()


def sglang_plugin() -> None:
    """An SGLang general plugin (entry point group ``sglang.srt.plugins``): SGLang calls it in
    each of its processes. Registers the backend, the config and ``Step1ForCausalLM`` itself
    (so no ``SGLANG_EXTERNAL_MODEL_PACKAGE`` is needed)."""
    prepare_process()
    from sglang.srt.models.registry import ModelRegistry

    from stepaudio_sglang.models.step1 import Step1ForCausalLM

    ModelRegistry.models.setdefault(Step1ForCausalLM.__name__, Step1ForCausalLM)


def _run(args: list[str]) -> None:
    """What ``python -m sglang.launch_server`` does with ``args``."""
    from sglang.srt.server_args import prepare_server_args
    from sglang.srt.utils import kill_process_tree

    try:
        from sglang.srt.plugins import load_plugins
    except ImportError:  # pragma: no cover - SGLang releases before the plugin framework
        load_plugins = None
    try:
        from sglang.launch_server import run_server
    except ImportError:  # pragma: no cover - older releases launch the HTTP server directly
        from sglang.srt.entrypoints.http_server import launch_server as run_server

    if load_plugins is not None:
        load_plugins()
    server_args = prepare_server_args(args)
    try:
        run_server(server_args)
    finally:
        kill_process_tree(os.getpid(), include_parent=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not sglang_installed():
        print(NO_SGLANG_MESSAGE, file=sys.stderr)
        return EXIT_NO_SGLANG
    prepare_environment()
    prepare_process()
    args = server_argv(args)
    for name in foreign_backends(args):
        logger.warning(
            "attention backend %r has no sqrt-ALiBi: Step-1 needs %r", name, BACKEND_NAME
        )
    _run(args)
    return 0


if __name__ == "__mp_main__" and sglang_installed():  # a process SGLang spawned from main()
    prepare_environment()
    prepare_process()

if __name__ == "__main__":
    sys.exit(main())
