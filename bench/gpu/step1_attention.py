"""GPU check of Step-1's sqrt-ALiBi attention kernels, one command, a few minutes on one H200.

1. Agreement: the Triton kernels against the plain-torch path over the same paged KV pool
   (shuffled pool rows): prefill after a cached prefix, decode, a ragged batch of 3 requests,
   in bfloat16 (and the ragged batch in float32), max abs error.
2. Speed at the TTS-3B size (48 heads, 4 KV heads, head_dim 64), 16 requests x 2048 tokens:
   prefill with no prefix and with 1024 cached + 1024 new, and decode, our kernels against
   torch SDPA given an explicit float bias (dense contiguous K/V with the KV heads repeated,
   the bias built outside the timing: SDPA's best case); ms per call and tokens/s of one layer.

Run: python bench/gpu/step1_attention.py [--device cuda]
     python bench/gpu/step1_attention.py --device cpu --tiny   (the same road on tiny sizes,
     the kernels through Triton's interpreter)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins/stepaudio-sglang"))  # the checkout's, installed or not

from stepaudio_sglang.alibi import alibi_slopes, sqrt_alibi_bias  # noqa: E402
from stepaudio_sglang.attention import (  # noqa: E402
    decode_attention_torch,
    decode_indices,
    extend_attention_torch,
    extend_indices,
)


@dataclass
class Paged:
    """A batch in SGLang's paged layout, and the dense per-request tensors SDPA gets."""

    q: torch.Tensor
    k_buffer: torch.Tensor
    v_buffer: torch.Tensor
    extend: tuple
    decode: tuple[torch.Tensor, torch.Tensor]
    dense_k: list[torch.Tensor]
    dense_v: list[torch.Tensor]


def paged(
    prefix: list[int], new: list[int], heads: int, kv_heads: int, dim: int, dtype: torch.dtype,
    device: str,
) -> Paged:  # fmt: skip
    """Random keys/values in shuffled pool rows (with unowned rows between); ``q`` holds the
    new tokens (for decode, the batch's last token of each request is the query)."""
    g = torch.Generator().manual_seed(0)
    lengths = [p + n for p, n in zip(prefix, new, strict=True)]
    pool = sum(lengths) + 64
    k_buffer = torch.randn(pool, kv_heads, dim, generator=g).to(device, dtype)
    v_buffer = torch.randn(pool, kv_heads, dim, generator=g).to(device, dtype)
    slots = torch.randperm(pool, generator=g)[: sum(lengths)].to(device)
    rows = torch.randperm(len(lengths) + 2, generator=g)[: len(lengths)].to(device)
    req_to_token = torch.zeros(len(lengths) + 2, max(lengths), dtype=torch.int32, device=device)
    starts = [0, *torch.tensor(lengths).cumsum(0).tolist()]
    for b, length in enumerate(lengths):
        req_to_token[rows[b], :length] = slots[starts[b] : starts[b + 1]].int()
    seq_lens = torch.tensor(lengths, device=device)
    index = extend_indices(
        req_to_token, rows, seq_lens, torch.tensor(prefix, device=device),
        torch.tensor(new, device=device),
    )  # fmt: skip
    extend = (index.qo_indptr, index.kv_indptr, index.kv_indices, index.prefix_lens)
    extend += (index.max_len_extend,)
    q = torch.randn(sum(new), heads, dim, generator=g).to(device, dtype)
    dense_k = [k_buffer[slots[starts[b] : starts[b + 1]]] for b in range(len(lengths))]
    dense_v = [v_buffer[slots[starts[b] : starts[b + 1]]] for b in range(len(lengths))]
    decode = decode_indices(req_to_token, rows, seq_lens)
    return Paged(q, k_buffer, v_buffer, extend, decode, dense_k, dense_v)


TOLERANCE = {torch.bfloat16: 3e-2, torch.float32: 1e-4}
"""The largest max abs error ``agreement`` passes (bf16: a few output roundings)."""


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def verdict(error: float, dtype: torch.dtype) -> str:
    return "ok" if error <= TOLERANCE[dtype] else "FAIL"


def agreement(device: str, tiny: bool) -> bool:
    """Prints the agreement rows; whether they all pass."""
    from stepaudio_sglang.attention.triton_paged import (
        decode_attention_triton,
        extend_attention_triton,
    )

    heads, kv, dim = (6, 2, 64) if tiny else (48, 4, 64)
    slopes = alibi_slopes(heads).to(device)
    cases = {
        "prefill+prefix": ([8, 8], [12, 12]) if tiny else ([512] * 4, [512] * 4),
        "ragged-3": ([0, 18, 5], [7, 3, 13]) if tiny else ([0, 1500, 300], [700, 37, 1200]),
    }
    print(f"{'':9s} {'case':15s} {'dtype':9s} {'shape':26s} {'max abs err':>11s} verdict")
    verdicts = []
    for name, dtype in (("prefill+prefix", torch.bfloat16), ("ragged-3", torch.bfloat16),
                        ("ragged-3", torch.float32)):  # fmt: skip
        prefix, new = cases[name]
        batch = paged(prefix, new, heads, kv, dim, dtype, device)
        args = (batch.k_buffer, batch.v_buffer, *batch.extend, slopes)
        ours = extend_attention_triton(batch.q, None, *args)
        error = max_error(ours, extend_attention_torch(batch.q, None, *args))
        shape = " ".join(f"{p}+{n}" for p, n in zip(prefix, new, strict=True))
        verdicts.append(verdict(error, dtype))
        print(f"agreement {name:15s} {str(dtype)[6:]:9s} {shape[:26]:26s} {error:11.2e} "
              f"{verdicts[-1]}")  # fmt: skip
    seq = [20, 1, 33] if tiny else [2048] * 16
    batch = paged([s - 1 for s in seq], [1] * len(seq), heads, kv, dim, torch.bfloat16, device)
    args = (batch.k_buffer, batch.v_buffer, None, *batch.decode, slopes)
    error = max_error(
        decode_attention_triton(batch.q, *args), decode_attention_torch(batch.q, *args)
    )
    shape = f"{len(seq)} x {max(seq)} context"
    verdicts.append(verdict(error, torch.bfloat16))
    print(f"agreement {'decode':15s} {'bfloat16':9s} {shape:26s} {error:11.2e} {verdicts[-1]}")
    return all(v == "ok" for v in verdicts)


def timed(device: str, fn: Callable[[], object], repeats: int) -> float:
    """Best seconds per call over ``repeats`` (after a warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def sdpa_inputs(batch: Paged, prefix: int, heads: int, slopes: torch.Tensor) -> tuple:
    """Dense ``[B, H, L, D]`` q/k/v (KV heads repeated) and the ``[1, H, Lq, Lk]`` float bias."""
    group = heads // batch.k_buffer.shape[1]
    count = len(batch.dense_k)
    k = torch.stack(batch.dense_k).repeat_interleave(group, dim=2).transpose(1, 2).contiguous()
    v = torch.stack(batch.dense_v).repeat_interleave(group, dim=2).transpose(1, 2).contiguous()
    q = batch.q.view(count, -1, heads, batch.q.shape[-1]).transpose(1, 2).contiguous()
    device = batch.q.device
    positions = torch.arange(prefix, prefix + q.shape[2], device=device)
    bias = sqrt_alibi_bias(slopes, positions, torch.arange(k.shape[2], device=device))
    return q, k, v, bias[None].to(q.dtype)


def speed(device: str, tiny: bool) -> None:
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    from stepaudio_sglang.attention.triton_paged import (
        decode_attention_triton,
        extend_attention_triton,
    )

    heads, kv, dim = (6, 2, 64) if tiny else (48, 4, 64)
    count, context = (2, 24) if tiny else (16, 2048)
    repeats = 1 if tiny else 10
    slopes = alibi_slopes(heads).to(device)
    scale = 1.0 / math.sqrt(dim)
    print(f"{heads} heads, {kv} KV heads, head_dim {dim}, {count} requests x {context} tokens")
    print(f"{'':5s} {'case':15s} {'impl':7s} {'ms':>9s} {'tokens/s':>12s} {'max|ours-sdpa|':>15s}")
    for name, prefix in (("prefill", 0), ("prefill+prefix", context // 2), ("decode", context - 1)):
        batch = paged([prefix] * count, [context - prefix] * count, heads, kv, dim,
                      torch.bfloat16, device)  # fmt: skip
        out = torch.empty_like(batch.q)
        args = (batch.k_buffer, batch.v_buffer)
        if name == "decode":
            ours = partial(decode_attention_triton, batch.q, *args, out, *batch.decode, slopes)
        else:
            ours = partial(extend_attention_triton, batch.q, out, *args, *batch.extend, slopes)
        q, k, v, bias = sdpa_inputs(batch, prefix, heads, slopes)
        theirs = partial(sdpa, q, k, v, attn_mask=bias, scale=scale)
        diff = max_error(ours().view(count, -1, heads, dim).transpose(1, 2), theirs())
        tokens = count * (context - prefix)
        for impl, fn in (("triton", ours), ("sdpa", theirs)):
            seconds = timed(device, fn, repeats)
            print(f"speed {name:15s} {impl:7s} {seconds * 1e3:9.3f} {tokens / seconds:12.0f} "
                  f"{diff:15.2e}")  # fmt: skip
        del batch, q, k, v, bias
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke run)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu --tiny for the smoke run")
    if args.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"  # read when the kernels are first decorated
    elif args.device.startswith("cuda"):
        import triton

        print(f"device: {torch.cuda.get_device_name()} torch {torch.__version__} "
              f"triton {triton.__version__}")  # fmt: skip
    torch.manual_seed(0)
    started = time.perf_counter()
    agreed = agreement(args.device, args.tiny)
    speed(args.device, args.tiny)
    print(f"done in {time.perf_counter() - started:.0f} s")
    if not agreed:
        sys.exit("the kernels disagree with the torch path (FAIL rows above)")


if __name__ == "__main__":
    main()
