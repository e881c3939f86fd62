"""sqrt-ALiBi attention over the paged KV pool: the torch path and the Triton kernels (run on the
CPU through Triton's interpreter) against a dense reference written from the formula.

Batches put each request's keys in shuffled, non-contiguous pool rows, under shuffled
``req_to_token`` rows, with unused pool rows of noise in between.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from stepaudio_sglang.alibi import alibi_slopes
from stepaudio_sglang.attention import (
    decode_attention_torch,
    decode_indices,
    extend_attention_torch,
    extend_indices,
)

pytest.importorskip("triton")
import triton
from triton.runtime.interpreter import InterpretedFunction

from stepaudio_sglang.attention import triton_kernels, triton_paged


@pytest.fixture(autouse=True)
def triton_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels are decorated on first call, so setting this here is enough."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")


class CountingKernel:
    """A jitted kernel that records the grids it is launched on."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.grids = inner, []

    def __getitem__(self, grid: tuple[int, ...]) -> Any:
        self.grids.append(grid)
        return self.inner[grid]


@dataclass
class Path:
    """One implementation: its two functions, and for Triton the kernels' launch records."""

    extend: Callable[..., torch.Tensor]
    decode: Callable[..., torch.Tensor]
    launches: dict[str, CountingKernel] = field(default_factory=dict)

    def ran(self, *names: str) -> bool:
        """For Triton: every named kernel was launched (on a non-empty grid) since the last
        call; the torch path has none to check."""
        done = not self.launches or all(
            any(math.prod(grid) > 0 for grid in self.launches[n].grids) for n in names
        )
        for kernel in self.launches.values():
            kernel.grids.clear()
        return done


@pytest.fixture(params=["torch", "triton"])
def path(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, triton_interpreter: None
) -> Path:
    """The torch path, or the Triton kernels (interpreted) with their launches recorded."""
    if request.param == "torch":
        return Path(extend_attention_torch, decode_attention_torch)
    built = triton_paged.kernels()
    assert built.interpreted and isinstance(built.extend, InterpretedFunction)
    launches = {}
    for name in ("extend", "decode_partial", "decode_combine"):
        launches[name] = CountingKernel(getattr(built, name))
        monkeypatch.setattr(built, name, launches[name])
    return Path(
        triton_paged.extend_attention_triton, triton_paged.decode_attention_triton, launches
    )


@dataclass
class Batch:
    """A ragged batch in SGLang's layout, with each request's keys and values also dense."""

    k_buffer: torch.Tensor
    v_buffer: torch.Tensor
    req_to_token: torch.Tensor
    req_pool_indices: torch.Tensor
    keys: list[torch.Tensor]
    values: list[torch.Tensor]


def make_batch(lengths: list[int], kv_heads: int, dim: int, dtype: torch.dtype) -> Batch:
    g = torch.Generator().manual_seed(sum(lengths) * 7 + dim)
    pool_tokens = sum(lengths) + 29  # rows no request owns: noise the kernels must not read
    k_buffer = torch.randn(pool_tokens, kv_heads, dim, generator=g).to(dtype)
    v_buffer = torch.randn(pool_tokens, kv_heads, dim, generator=g).to(dtype)
    slots = torch.randperm(pool_tokens, generator=g)
    req_pool_indices = torch.randperm(len(lengths) + 3, generator=g)[: len(lengths)]
    req_to_token = torch.zeros(len(lengths) + 3, max(lengths) + 6, dtype=torch.int32)
    keys, values, used = [], [], 0
    for row, length in zip(req_pool_indices.tolist(), lengths, strict=True):
        mine = slots[used : used + length].tolist()
        used += length
        req_to_token[row, :length] = torch.tensor(mine, dtype=torch.int32)
        keys.append(torch.stack([k_buffer[s] for s in mine]))
        values.append(torch.stack([v_buffer[s] for s in mine]))
    return Batch(k_buffer, v_buffer, req_to_token, req_pool_indices, keys, values)


def dense_reference(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, first: int, slopes: torch.Tensor
) -> torch.Tensor:
    """softmax(q.k / sqrt(dim) - slope_h * sqrt(i - j)) . v over keys j <= i, in float64, for
    queries at positions ``first, first + 1, ...``; query head h reads KV head h // group."""
    heads, dim = q.shape[1], q.shape[2]
    group = heads // keys.shape[1]
    out = torch.empty(q.shape, dtype=torch.float64)
    for h in range(heads):
        k, v = keys[:, h // group].double(), values[:, h // group].double()
        for i in range(q.shape[0]):
            position = first + i
            distance = torch.arange(position, -1, -1, dtype=torch.float64)  # i - j, j = 0..i
            logits = k[: position + 1] @ q[i, h].double() / math.sqrt(dim)
            logits = logits - float(slopes[h]) * distance.sqrt()
            out[i, h] = logits.softmax(0) @ v[: position + 1]
    return out


@dataclass(frozen=True)
class Case:
    prefix: tuple[int, ...]
    extend: tuple[int, ...]
    heads: int
    kv_heads: int
    dim: int

    def slopes(self) -> torch.Tensor:
        """A tensor-parallel rank's slice when the count is not a power of two (rank 1 of 2)."""
        if self.heads & (self.heads - 1):
            return alibi_slopes(2 * self.heads)[self.heads :]
        return alibi_slopes(self.heads)


EXTEND_CASES = {
    "prefix+extend": Case((19,), (21,), heads=4, kv_heads=2, dim=64),
    "no-prefix": Case((0,), (23,), heads=4, kv_heads=4, dim=64),
    "ragged-3-gqa-6-heads": Case((0, 18, 5), (7, 3, 33), heads=6, kv_heads=2, dim=64),
    "dim-128-gqa-4": Case((9, 0), (20, 17), heads=8, kv_heads=2, dim=128),
    "6-heads-1-kv-dim-128": Case((4,), (12,), heads=6, kv_heads=1, dim=128),
}


def run_extend(path: Path, case: Case, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, dense reference) of one extend case."""
    lengths = [p + e for p, e in zip(case.prefix, case.extend, strict=True)]
    batch = make_batch(lengths, case.kv_heads, case.dim, dtype)
    g = torch.Generator().manual_seed(len(lengths))
    q = torch.randn(sum(case.extend), case.heads, case.dim, generator=g).to(dtype)
    index = extend_indices(
        batch.req_to_token,
        batch.req_pool_indices,
        torch.tensor(lengths),
        torch.tensor(case.prefix),
        torch.tensor(case.extend),
    )
    o = torch.full_like(q, float("nan"))
    args = (index.qo_indptr, index.kv_indptr, index.kv_indices, index.prefix_lens)
    out = path.extend(
        q, o, batch.k_buffer, batch.v_buffer, *args, index.max_len_extend, case.slopes()
    )
    assert out is o and out.dtype == dtype and path.ran("extend")
    starts = index.qo_indptr.tolist()
    expected = torch.cat(
        [
            dense_reference(q[starts[b] : starts[b + 1]], k, v, case.prefix[b], case.slopes())
            for b, (k, v) in enumerate(zip(batch.keys, batch.values, strict=True))
        ]
    )
    return out, expected


@pytest.mark.parametrize("name", list(EXTEND_CASES))
def test_extend_matches_the_dense_formula(path: Path, name: str) -> None:
    out, expected = run_extend(path, EXTEND_CASES[name], torch.float32)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_extend_in_bfloat16(path: Path) -> None:
    out, expected = run_extend(path, EXTEND_CASES["ragged-3-gqa-6-heads"], torch.bfloat16)
    torch.testing.assert_close(out.double(), expected, atol=3e-2, rtol=2e-2)


DECODE_CASES = {
    "ragged-3-gqa-6-heads": Case((0, 16, 39), (1, 1, 1), heads=6, kv_heads=2, dim=64),
    "dim-128-gqa-4": Case((32, 4), (1, 1), heads=8, kv_heads=2, dim=128),
    "mha-dim-64": Case((21,), (1,), heads=4, kv_heads=4, dim=64),
}


def run_decode(
    path: Path, case: Case, dtype: torch.dtype, splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, dense reference) of one decode step: the decoded token's KV is the last."""
    seq_lens = [p + 1 for p in case.prefix]
    batch = make_batch(seq_lens, case.kv_heads, case.dim, dtype)
    g = torch.Generator().manual_seed(len(seq_lens) + 1)
    q = torch.randn(len(seq_lens), case.heads, case.dim, generator=g).to(dtype)
    kv_indptr, kv_indices = decode_indices(
        batch.req_to_token, batch.req_pool_indices, torch.tensor(seq_lens)
    )
    o = torch.full_like(q, float("nan"))
    out = path.decode(
        q, batch.k_buffer, batch.v_buffer, o, kv_indptr, kv_indices, case.slopes(),
        num_kv_splits=splits,
    )  # fmt: skip
    assert out is o and out.dtype == dtype and path.ran("decode_partial", "decode_combine")
    expected = torch.cat(
        [
            dense_reference(q[b : b + 1], k, v, len(k) - 1, case.slopes())
            for b, (k, v) in enumerate(zip(batch.keys, batch.values, strict=True))
        ]
    )
    return out, expected


@pytest.mark.parametrize("splits", [1, 3, 64], ids=lambda s: f"splits-{s}")
@pytest.mark.parametrize("name", list(DECODE_CASES))
def test_decode_matches_the_dense_formula(path: Path, name: str, splits: int) -> None:
    """64 splits leave most splits empty (fewer keys than splits)."""
    out, expected = run_decode(path, DECODE_CASES[name], torch.float32, splits)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_decode_in_bfloat16(path: Path) -> None:
    out, expected = run_decode(path, DECODE_CASES["ragged-3-gqa-6-heads"], torch.bfloat16, 4)
    torch.testing.assert_close(out.double(), expected, atol=3e-2, rtol=2e-2)


def test_extend_indices_reject_inconsistent_lengths() -> None:
    with pytest.raises(ValueError, match="seq_lens"):
        extend_indices(
            torch.zeros(2, 8, dtype=torch.int32),
            torch.tensor([0, 1]),
            torch.tensor([5, 5]),
            torch.tensor([1, 2]),
            torch.tensor([4, 4]),
        )


def test_kernels_with_the_fallback_reduce_combines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own combines, for Triton versions without ``standard._elementwise_max`` /
    ``_sum_combine`` (the interpreter then reduces through their Python bodies)."""
    for name in ("_max_combine", "_sum_combine"):
        fallback = triton.JITFunction(getattr(triton_kernels, f"{name}_fn"))
        monkeypatch.setattr(triton_kernels, name, fallback)
    path = Path(triton_paged.extend_attention_triton, triton_paged.decode_attention_triton)
    out, expected = run_extend(path, Case((3,), (9,), 2, 1, 64), torch.float32)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)
    out, expected = run_decode(path, Case((20, 6), (1, 1), 2, 1, 64), torch.float32, 2)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


IMPORT_ORDER_SCRIPT = """
import os
import torch, triton
from stepaudio_sglang.alibi import alibi_slopes
from stepaudio_sglang.attention import decode_attention_torch
import triton
from stepaudio_sglang.attention import triton_kernels, triton_paged
assert "TRITON_INTERPRET" not in os.environ
os.environ["TRITON_INTERPRET"] = "1"  # after triton and the module were imported
k, v, q = torch.randn(40, 2, 64), torch.randn(40, 2, 64), torch.randn(2, 4, 64)
indptr, indices = torch.tensor([0, 9, 30]), torch.randperm(40)[:30]
args = (k, v, None, indptr, indices, alibi_slopes(4))
error = (triton_paged.decode_attention_triton(q, *args) - decode_attention_torch(q, *args)).abs()
assert triton_paged.kernels().interpreted
print("interpreted", float(error.max()))
"""


def test_interpreter_setting_is_read_on_first_call_not_at_import() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ORDER_SCRIPT],
        capture_output=True, text=True, timeout=120, env={**env, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    word, error = done.stdout.split()
    assert word == "interpreted" and float(error) < 1e-5
