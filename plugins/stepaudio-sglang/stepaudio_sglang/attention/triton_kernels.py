"""The Triton kernels of :mod:`stepaudio_sglang.attention.triton_paged`, as plain functions:
that module decorates them on first use (``triton.jit`` reads TRITON_INTERPRET then).

Pointers named in capitals; strides in elements; positions are indices in a request's key
list (query ``m`` of an extend at ``prefix_len + m``, a decoded token at ``seq_len - 1``).
The kernels call only Triton builtins and ``tl.reduce`` with the combines below: Triton's own
``@jit`` helpers (``tl.max``, ``tl.sum``, ``tl.zeros``, ``tl.cdiv``) are decorated when Triton is
imported, and an interpreted kernel cannot call one decorated for the GPU.
"""

import triton
import triton.language as tl


def _max_combine_fn(a, b):
    """``tl.max``'s combine, for Triton versions without ``standard._elementwise_max``."""
    return tl.maximum(a, b)


def _sum_combine_fn(a, b):
    """``tl.sum``'s combine, for Triton versions without ``standard._sum_combine``."""
    return a + b


# Triton's own combines are what tl.max / tl.sum pass (compiled the same on a GPU; the interpreter
# recognizes them and reduces in numpy); ours are JITFunctions whatever TRITON_INTERPRET says
# (the interpreter calls a combine's ``.fn``).
_max_combine = getattr(tl.standard, "_elementwise_max", None) or triton.JITFunction(_max_combine_fn)
_sum_combine = getattr(tl.standard, "_sum_combine", None) or triton.JITFunction(_sum_combine_fn)


def extend_kernel(
    Q, Out, K_Buffer, V_Buffer, qo_indptr, kv_indptr, kv_indices, prefix_lens, Slopes,
    sm_scale, kv_group_num, stride_qt, stride_qh, stride_ot, stride_oh,
    stride_kt, stride_kh, stride_vt, stride_vh,
    HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr, UPCAST: tl.constexpr, DOT_PRECISION: tl.constexpr,
):  # fmt: skip
    """New tokens ``BLOCK_M * pid(2)...`` of request ``pid(0)``, query head ``pid(1)``."""
    seq = tl.program_id(0)
    head = tl.program_id(1)
    block_m = tl.program_id(2)
    q_start = tl.load(qo_indptr + seq)
    extend_len = tl.load(qo_indptr + seq + 1) - q_start
    if block_m * BLOCK_M >= extend_len:
        return
    kv_head = head // kv_group_num
    kv_start = tl.load(kv_indptr + seq)
    prefix_len = tl.load(prefix_lens + seq)
    slope = tl.load(Slopes + head).to(tl.float32)

    offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < extend_len
    mask_d = offs_d < HEAD_DIM
    q_rows = (q_start + offs_m).to(tl.int64)
    q_mask = mask_m[:, None] & mask_d[None, :]
    q = tl.load(Q + q_rows[:, None] * stride_qt + head * stride_qh + offs_d[None, :], mask=q_mask)
    if UPCAST:
        q = q.to(tl.float32)
    q_pos = prefix_len + offs_m

    acc = tl.full([BLOCK_M, BLOCK_D], 0.0, dtype=tl.float32)
    deno = tl.full([BLOCK_M], 0.0, dtype=tl.float32)
    e_max = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    # causal: no key after this tile's last query
    kv_end = prefix_len + tl.minimum(extend_len, (block_m + 1) * BLOCK_M)
    for start_n in range(0, kv_end, BLOCK_N):
        k_pos = start_n + offs_n
        mask_n = k_pos < kv_end
        loc = tl.load(kv_indices + kv_start + k_pos, mask=mask_n, other=0).to(tl.int64)
        k = tl.load(
            K_Buffer + loc[None, :] * stride_kt + kv_head * stride_kh + offs_d[:, None],
            mask=mask_n[None, :] & mask_d[:, None],
            other=0.0,
        )
        if UPCAST:
            k = k.to(tl.float32)
        qk = tl.dot(q, k, input_precision=DOT_PRECISION) * sm_scale
        distance = q_pos[:, None] - k_pos[None, :]
        qk -= slope * tl.sqrt(tl.maximum(distance, 0).to(tl.float32))
        qk = tl.where((distance >= 0) & mask_m[:, None] & mask_n[None, :], qk, float("-inf"))

        m_new = tl.maximum(e_max, tl.reduce(qk, 1, _max_combine))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with no key yet
        re_scale = tl.exp(e_max - m_safe)
        p = tl.exp(qk - m_safe[:, None])
        deno = deno * re_scale + tl.reduce(p, 1, _sum_combine)
        v = tl.load(
            V_Buffer + loc[:, None] * stride_vt + kv_head * stride_vh + offs_d[None, :],
            mask=mask_n[:, None] & mask_d[None, :],
            other=0.0,
        )
        p = p.to(V_Buffer.dtype.element_ty)
        if UPCAST:
            p = p.to(tl.float32)
            v = v.to(tl.float32)
        acc = acc * re_scale[:, None] + tl.dot(p, v, input_precision=DOT_PRECISION)
        e_max = m_new

    out = acc / tl.where(deno == 0.0, 1.0, deno)[:, None]
    tl.store(
        Out + q_rows[:, None] * stride_ot + head * stride_oh + offs_d[None, :],
        out.to(Out.dtype.element_ty),
        mask=q_mask,
    )


def decode_partial_kernel(
    Q, K_Buffer, V_Buffer, kv_indptr, kv_indices, Slopes, Mid_O, Mid_Lse,
    sm_scale, kv_group_num, stride_qb, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh,
    stride_mb, stride_mh, stride_ms, stride_lb, stride_lh,
    NUM_SPLITS: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, UPCAST: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):  # fmt: skip
    """Split ``pid(2)`` of request ``pid(0)``'s keys for the query heads of KV head ``pid(1)``:
    the normalized partial output and its log-sum-exp (``-inf`` for an empty split)."""
    seq = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    kv_start = tl.load(kv_indptr + seq)
    seq_len = tl.load(kv_indptr + seq + 1) - kv_start
    split_len = (seq_len + NUM_SPLITS - 1) // NUM_SPLITS
    lo = split * split_len
    hi = tl.minimum(lo + split_len, seq_len)

    offs_g = tl.arange(0, BLOCK_H)
    heads = kv_head * kv_group_num + offs_g
    mask_h = offs_g < kv_group_num
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_d = offs_d < HEAD_DIM
    q_mask = mask_h[:, None] & mask_d[None, :]
    q = tl.load(Q + seq * stride_qb + heads[:, None] * stride_qh + offs_d[None, :], mask=q_mask)
    if UPCAST:
        q = q.to(tl.float32)
    slope = tl.load(Slopes + heads, mask=mask_h, other=0.0).to(tl.float32)
    q_pos = seq_len - 1  # the decoded token is the last key

    acc = tl.full([BLOCK_H, BLOCK_D], 0.0, dtype=tl.float32)
    deno = tl.full([BLOCK_H], 0.0, dtype=tl.float32)
    e_max = tl.full([BLOCK_H], float("-inf"), dtype=tl.float32)
    for start_n in range(lo, hi, BLOCK_N):
        k_pos = start_n + offs_n
        mask_n = k_pos < hi
        loc = tl.load(kv_indices + kv_start + k_pos, mask=mask_n, other=0).to(tl.int64)
        k = tl.load(
            K_Buffer + loc[None, :] * stride_kt + kv_head * stride_kh + offs_d[:, None],
            mask=mask_n[None, :] & mask_d[:, None],
            other=0.0,
        )
        if UPCAST:
            k = k.to(tl.float32)
        qk = tl.dot(q, k, input_precision=DOT_PRECISION) * sm_scale
        root = tl.sqrt(tl.maximum(q_pos - k_pos, 0).to(tl.float32))
        qk -= slope[:, None] * root[None, :]
        qk = tl.where(mask_n[None, :], qk, float("-inf"))

        m_new = tl.maximum(e_max, tl.reduce(qk, 1, _max_combine))
        re_scale = tl.exp(e_max - m_new)  # every row sees >= 1 key in a non-empty loop
        p = tl.exp(qk - m_new[:, None])
        deno = deno * re_scale + tl.reduce(p, 1, _sum_combine)
        v = tl.load(
            V_Buffer + loc[:, None] * stride_vt + kv_head * stride_vh + offs_d[None, :],
            mask=mask_n[:, None] & mask_d[None, :],
            other=0.0,
        )
        p = p.to(V_Buffer.dtype.element_ty)
        if UPCAST:
            p = p.to(tl.float32)
            v = v.to(tl.float32)
        acc = acc * re_scale[:, None] + tl.dot(p, v, input_precision=DOT_PRECISION)
        e_max = m_new

    seen = deno > 0.0
    lse = tl.where(seen, e_max + tl.log(tl.where(seen, deno, 1.0)), float("-inf"))
    out = acc / tl.where(seen, deno, 1.0)[:, None]
    base = seq * stride_mb + heads * stride_mh + split * stride_ms
    tl.store(Mid_O + base[:, None] + offs_d[None, :], out, mask=q_mask)
    tl.store(Mid_Lse + seq * stride_lb + heads * stride_lh + split, lse, mask=mask_h)


def decode_combine_kernel(
    Mid_O, Mid_Lse, Out, stride_mb, stride_mh, stride_ms, stride_lb, stride_lh,
    stride_ob, stride_oh,
    NUM_SPLITS: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
    BLOCK_S: tl.constexpr,
):  # fmt: skip
    """Request ``pid(0)``, head ``pid(1)``: the splits' partial outputs weighted by
    ``exp(lse_s - max lse)``."""
    seq = tl.program_id(0)
    head = tl.program_id(1)
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, BLOCK_D)
    mask_s = offs_s < NUM_SPLITS
    mask_d = offs_d < HEAD_DIM
    lse = tl.load(
        Mid_Lse + seq * stride_lb + head * stride_lh + offs_s, mask=mask_s, other=float("-inf")
    )
    weight = tl.exp(lse - tl.reduce(lse, 0, _max_combine))  # split 0 is never empty
    parts = tl.load(
        Mid_O + seq * stride_mb + head * stride_mh + offs_s[:, None] * stride_ms + offs_d[None, :],
        mask=mask_s[:, None] & mask_d[None, :],
        other=0.0,
    )
    out = tl.reduce(weight[:, None] * parts, 0, _sum_combine) / tl.reduce(weight, 0, _sum_combine)
    out_ptr = Out + seq * stride_ob + head * stride_oh + offs_d
    tl.store(out_ptr, out.to(Out.dtype.element_ty), mask=mask_d)
