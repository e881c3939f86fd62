"""The kernels compiled for a Hopper GPU (sm_90: H100 / H200) on this CPU, through Triton's whole
GPU pipeline down to a cubin (Triton ships ptxas), with the very arguments, tiles and launch
options the wrappers pass on a GPU: what the interpreter cannot show (tile shapes ``tl.dot``
accepts, bf16 dots, loop-carried types, register and shared-memory fit)."""

from __future__ import annotations

import inspect
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

from stepaudio_sglang.alibi import alibi_slopes

pytest.importorskip("triton")
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from stepaudio_sglang.attention import triton_kernels, triton_paged

POINTER = {torch.bfloat16: "*bf16", torch.float32: "*fp32", torch.int32: "*i32"}
POINTER[torch.int64] = "*i64"
KERNELS = {
    "extend": triton_kernels.extend_kernel,
    "decode_partial": triton_kernels.decode_partial_kernel,
    "decode_combine": triton_kernels.decode_combine_kernel,
}


class Capture:
    """Stands in for a jitted kernel: records the launch instead of running it."""

    def __init__(self) -> None:
        self.launches: list[tuple[tuple[int, ...], tuple[Any, ...], dict[str, Any]]] = []

    def __getitem__(self, grid: tuple[int, ...]) -> Any:
        return lambda *args, **kwargs: self.launches.append((grid, args, kwargs))


def captured_launches(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype, heads: int, kv_heads: int, dim: int
) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    """Each kernel's launch arguments from one extend and one decode call, the wrappers
    believing they drive an sm_90 GPU."""
    captures = {name: Capture() for name in KERNELS}
    built = triton_paged.Kernels(**captures, interpreted=False)
    monkeypatch.setattr(triton_paged, "kernels", lambda: built)
    monkeypatch.setattr(triton_paged, "_capability", lambda built, device: (9, 0))
    pool, slopes = torch.randn(64, kv_heads, dim).to(dtype), alibi_slopes(heads)
    q = torch.randn(20, heads, dim).to(dtype)
    indptr = torch.tensor([0, 12, 20], dtype=torch.int32)
    indices = torch.arange(32, dtype=torch.int64)
    prefix = torch.tensor([4, 0], dtype=torch.int32)
    triton_paged.extend_attention_triton(
        q, None, pool, pool, indptr, torch.tensor([0, 16, 24], dtype=torch.int32), indices,
        prefix, 12, slopes,
    )  # fmt: skip
    triton_paged.decode_attention_triton(q[:2], pool, pool, None, indptr, indices, slopes)
    return {name: capture.launches[0][1:] for name, capture in captures.items()}


def signature_of(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Triton's (signature, constexprs, options) for one recorded launch."""
    names = list(inspect.signature(KERNELS[name]).parameters)
    options = {key: kwargs[key] for key in ("num_warps", "num_stages") if key in kwargs}
    constexprs = {key: value for key, value in kwargs.items() if key not in options}
    assert sorted(names[len(args) :]) == sorted(constexprs), "the launch and the kernel disagree"
    signature: dict[str, str] = {}
    for param, value in zip(names, args, strict=False):
        if isinstance(value, torch.Tensor):
            signature[param] = POINTER[value.dtype]
        else:
            signature[param] = "fp32" if isinstance(value, float) else "i32"
    signature.update(dict.fromkeys(constexprs, "constexpr"))
    return signature, constexprs, options


def spill_bytes(cubin: bytes) -> int | None:
    """The kernel's spill stack (ptxas's STACK) from the cuobjdump Triton ships, if it does."""
    tool = Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump"
    if not tool.is_file():
        return None
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        usage = subprocess.run(
            [str(tool), "--dump-resource-usage", file.name], capture_output=True, text=True
        ).stdout
    return int(usage.split("STACK:")[1].split()[0])


CASES = [
    ("tts-3b-bf16-dim64", torch.bfloat16, 48, 4, 64, "extend"),
    ("tts-3b-bf16-dim64", torch.bfloat16, 48, 4, 64, "decode_partial"),
    ("tts-3b-bf16-dim64", torch.bfloat16, 48, 4, 64, "decode_combine"),
    ("chat-rank-bf16-dim128", torch.bfloat16, 12, 1, 128, "extend"),
    ("chat-rank-bf16-dim128", torch.bfloat16, 12, 1, 128, "decode_partial"),
    ("fp32-tf32x3-dim64", torch.float32, 6, 2, 64, "extend"),
]


@pytest.mark.parametrize(
    ("dtype", "heads", "kv_heads", "dim", "kernel"),
    [case[1:] for case in CASES],
    ids=[f"{case[0]}-{case[-1]}" for case in CASES],
)
def test_kernel_compiles_for_sm90(
    monkeypatch: pytest.MonkeyPatch,
    dtype: torch.dtype,
    heads: int,
    kv_heads: int,
    dim: int,
    kernel: str,
) -> None:
    args, kwargs = captured_launches(monkeypatch, dtype, heads, kv_heads, dim)[kernel]
    assert kwargs.get("UPCAST", False) is False  # the GPU's own bf16 dots
    signature, constexprs, options = signature_of(kernel, args, kwargs)
    compiled = triton.compile(
        ASTSource(triton.JITFunction(KERNELS[kernel]), signature, constexprs),
        target=GPUTarget("cuda", 90, 32),
        options=options,
    )
    assert compiled.asm["cubin"] and ".target sm_90" in compiled.asm["ptx"]
    assert compiled.metadata.shared <= 228 * 1024  # fits an H100/H200 SM's shared memory
    if dtype == torch.bfloat16:
        assert spill_bytes(compiled.asm["cubin"]) in (0, None), "registers spill"
