"""SGLang's side of Step-1 checked on the CPU, in SGLang's own environment (not a pytest file).

    PYTHONPATH=plugins/stepaudio-sglang /opt/sglang-env/bin/python \
        plugins/stepaudio-sglang/tests/sglang_side_check.py [--folder DIR] [--tp 1 2] \
        [--kernels torch triton]

For each tensor-parallel size (one spawned CPU process per rank, over gloo), builds
``Step1ForCausalLM`` from SGLang's layers, loads a tiny released-layout folder through
``load_weights``, creates the ``step1-alibi`` backend from SGLang's attention registry over
SGLang's own ``ReqToTokenPool`` and ``MHATokenToKVPool`` (pool slots scattered), and runs
``RadixAttention`` and SGLang's ``LogitsProcessor`` through: an extend of two prompts, a decode
step, an extend after a cached prefix, and a new request reusing another's prefix slots (as the
radix cache does). Every new position's logits are compared with the plain-torch reference
(``stepaudio_sglang.reference.Step1Model``) over the whole sequence. A second, in-memory model
with 12 heads on 2 KV groups (slopes not a power of two, groups of 6, KV heads replicated when
``tp`` is 4) is checked the same way. ``triton`` runs the Triton kernels through Triton's CPU
interpreter. Prints one JSON line (``{"matched": true, ...}``); exits 0 when all matched.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

TOLERANCE = 1e-4  # float32 logits, max abs difference (wrong slopes give 0.1 and more)
SEED = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def init_parallel(rank: int = 0, world: int = 1, port: int | None = None) -> None:
    """A gloo world of ``world`` CPU processes, all tensor-parallel, and SGLang's
    model-parallel groups over it (as SGLang's own layer tests set them up)."""
    from sglang.srt.distributed import parallel_state
    from sglang.srt.distributed.parallel_state import (
        init_distributed_environment,
        initialize_model_parallel,
    )
    from sglang.test.test_utils import publish_build_topology

    if world > 1:  # SGLang gives every multi-rank group a PyNccl communicator: none on a CPU
        build_group = parallel_state.init_model_parallel_group
        parallel_state.init_model_parallel_group = functools.partial(build_group, use_pynccl=False)

    init_distributed_environment(
        world_size=world, rank=rank, local_rank=rank, backend="gloo",
        distributed_init_method=f"tcp://127.0.0.1:{port or free_port()}",
    )  # fmt: skip
    publish_build_topology(world_rank=rank, tp_size=world, ep_size=1, pp_size=1, device="cpu")
    initialize_model_parallel(backend="gloo")


class Harness:
    """One SGLang model over its pools, with a slot allocator and request bookkeeping."""

    def __init__(self, model: Any, pool_tokens: int = 512) -> None:
        from sglang.srt.layers.attention.attention_registry import ATTENTION_BACKENDS
        from sglang.srt.mem_cache.memory_pool import MHATokenToKVPool, ReqToTokenPool

        from stepaudio_sglang.sglang_backend import BACKEND_NAME

        attention = model.model.layers[0].self_attn  # this rank's heads
        self.model = model
        self.req_pool = ReqToTokenPool(
            size=8, max_context_len=128, device="cpu", enable_memory_saver=False
        )
        self.kv_pool = MHATokenToKVPool(
            size=pool_tokens, page_size=1, dtype=torch.float32,
            head_num=attention.num_kv_heads, head_dim=attention.head_dim,
            layer_num=len(model.model.layers), device="cpu", enable_memory_saver=False,
        )  # fmt: skip
        runner = SimpleNamespace(
            device="cpu", req_to_token_pool=self.req_pool, token_to_kv_pool=self.kv_pool,
            kv_cache_dtype=torch.float32,
        )  # fmt: skip
        self.backend = ATTENTION_BACKENDS[BACKEND_NAME](runner)
        generator = torch.Generator().manual_seed(SEED)
        self.free = (torch.randperm(pool_tokens - 1, generator=generator) + 1).tolist()
        self.tokens: dict[int, list[int]] = {}  # request row -> its token ids so far

    @torch.no_grad()
    def run(
        self, rows: list[int], new_ids: list[list[int]], decode: bool, shared: dict | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward ``new_ids[b]`` for request row ``rows[b]`` after its known tokens;
        ``shared`` maps a new row to (source row, prefix length) it starts from. Returns
        the final norm's output at every new position, and the LogitsProcessor's logits of
        each request's last one (gathered over the vocabulary's shards)."""
        from sglang.srt.model_executor.forward_batch_info import (
            CaptureHiddenMode,
            ForwardBatch,
            ForwardMode,
        )
        from sglang.srt.model_executor.forward_context import ForwardContext, forward_context

        req_to_token = self.req_pool.req_to_token
        for row, (source, length) in (shared or {}).items():
            req_to_token[row, :length] = req_to_token[source, :length]
            self.tokens[row] = self.tokens[source][:length]
        prefix = [len(self.tokens.setdefault(row, [])) for row in rows]
        extend = [len(ids) for ids in new_ids]
        locs = []
        for row, start, ids in zip(rows, prefix, new_ids, strict=True):
            slots = [self.free.pop() for _ in ids]
            req_to_token[row, start : start + len(ids)] = torch.tensor(slots, dtype=torch.int32)
            locs += slots
            self.tokens[row] += ids
        seq = [p + e for p, e in zip(prefix, extend, strict=True)]
        positions = [p + m for p, e in zip(prefix, extend, strict=True) for m in range(e)]
        int64 = {"dtype": torch.int64}
        batch = ForwardBatch(
            forward_mode=ForwardMode.DECODE if decode else ForwardMode.EXTEND,
            batch_size=len(rows),
            input_ids=torch.tensor([i for ids in new_ids for i in ids], **int64),
            req_pool_indices=torch.tensor(rows, **int64),
            seq_lens=torch.tensor(seq, **int64),
            out_cache_loc=torch.tensor(locs, **int64),
            seq_lens_sum=sum(seq),
            seq_lens_cpu=torch.tensor(seq, **int64),
            positions=torch.tensor(positions),
            capture_hidden_mode=CaptureHiddenMode.NULL,
        )
        if not decode:
            batch.extend_seq_lens = torch.tensor(extend, dtype=torch.int32)
            batch.extend_prefix_lens = torch.tensor(prefix, dtype=torch.int32)
            batch.extend_seq_lens_cpu, batch.extend_prefix_lens_cpu = extend, prefix
            batch.extend_num_tokens = sum(extend)
        self.backend.init_forward_metadata(batch)
        with forward_context(ForwardContext(attn_backend=self.backend), forward_batch=batch):
            hidden = self.model.model(batch.input_ids, batch)
            last = self.model.logits_processor(
                batch.input_ids, hidden, self.model.lm_head, batch
            ).next_token_logits
        return hidden, last


def compare(harness: Harness, reference: Any, name: str) -> dict[str, float]:
    """The four steps; per step, the largest logit difference from the reference at any new
    position (through the reference's ``lm_head``) and at the last (through SGLang's)."""
    generator = torch.Generator().manual_seed(SEED + 1)
    vocab = reference.config.vocab_size

    def ids(n: int) -> list[int]:
        return torch.randint(4, vocab, (n,), generator=generator).tolist()

    steps = [
        ("extend", [1, 2], [ids(7), ids(5)], False, None),
        ("decode", [1, 2], [ids(1), ids(1)], True, None),
        ("extend-after-prefix", [1, 2], [ids(3), ids(1)], False, None),
        ("shared-prefix", [3], [ids(4)], False, {3: (1, 5)}),
    ]
    worst: dict[str, float] = {}
    head = reference.lm_head.weight.float()
    for step, rows, new_ids, decode, shared in steps:
        hidden, last = harness.run(rows, new_ids, decode, shared)
        every = (hidden.float() @ head.T).split([len(i) for i in new_ids])
        diff = 0.0
        for b, row in enumerate(rows):
            expected = reference(torch.tensor(harness.tokens[row])[None])[0, -len(new_ids[b]) :]
            diff = max(diff, (every[b] - expected).abs().max().item())
            diff = max(diff, (last[b].float() - expected[-1]).abs().max().item())
        worst[f"{name}/{step}"] = diff
    return worst


def random_state(config: Any) -> dict[str, torch.Tensor]:
    """Released names and shapes for ``config`` (a Step1Config), seeded N(0, 0.02) weights."""
    from stepaudio_sglang.reference import Step1Model

    with torch.device("meta"):
        shapes = {n: p.shape for n, p in Step1Model(config).state_dict().items()}
    generator = torch.Generator().manual_seed(SEED + 2)
    return {
        name: 1.0 + 0.1 * torch.randn(shape, generator=generator)
        if name.endswith("norm.weight")
        else 0.02 * torch.randn(shape, generator=generator)
        for name, shape in shapes.items()
    }


def build(config_dict: dict[str, Any], weights: Any) -> Any:
    """``Step1ForCausalLM`` on the CPU in float32, loaded through ``load_weights``."""
    from sglang.srt.model_loader.utils import set_default_torch_dtype

    from stepaudio_sglang.models.step1 import Step1ForCausalLM, Step1HFConfig

    hf_keys = ("auto_map", "model_type", "architectures")
    hf_config = Step1HFConfig(**{k: v for k, v in config_dict.items() if k not in hf_keys})
    with set_default_torch_dtype(torch.float32), torch.device("cpu"):
        model = Step1ForCausalLM(hf_config).eval()
    unloaded = set(dict(model.named_parameters())) - model.load_weights(weights)
    if unloaded:
        raise AssertionError(f"parameters not loaded: {sorted(unloaded)}")
    return model


def check(folder: Path, kernels: str) -> dict[str, Any]:
    """This process's rank of both models (the folder's, and the 12-head one)."""
    from dataclasses import asdict

    from stepaudio_sglang.config import Step1Config
    from stepaudio_sglang.reference import Step1Model
    from stepaudio_sglang.sglang_backend import KERNEL_ENV
    from stepaudio_sglang.weights import iter_weights

    os.environ[KERNEL_ENV] = kernels
    if kernels == "triton":
        os.environ["TRITON_INTERPRET"] = "1"  # the kernels on the CPU
    report: dict[str, Any] = {}
    model = build(json.loads((folder / "config.json").read_text()), iter_weights(folder))
    harness = Harness(model)
    report["kernels"] = harness.backend.kernels.name
    report.update(compare(harness, Step1Model.from_folder(folder), f"{kernels}/tiny-tts-3b"))

    odd = Step1Config(hidden_size=768, intermediate_size=512, num_attention_heads=12,
                      num_attention_groups=2, num_hidden_layers=2)  # fmt: skip
    state = random_state(odd)
    model = build({**asdict(odd), "architectures": ["Step1ForCausalLM"]}, state.items())
    reference = Step1Model(odd)
    reference.load_state_dict(state)
    report.update(compare(Harness(model), reference.eval(), f"{kernels}/12-heads-2-groups"))
    return report


def rank_main(rank: int, world: int, port: int, folder: str, kernels: list[str], out: str) -> None:
    """One tensor-parallel rank (a spawned process); rank 0 writes its report to ``out``."""
    torch.manual_seed(SEED)
    init_parallel(rank, world, port)
    report: dict[str, Any] = {}
    for name in kernels:  # torch first: TRITON_INTERPRET is set for the triton run
        result = check(Path(folder), name)
        if result.pop("kernels") != name:
            raise AssertionError(f"the backend did not pick the {name} kernels")
        report.update(result)
    if rank == 0:
        Path(out).write_text(json.dumps(report))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folder", type=Path, help="a tiny Step-1 folder (else one is written)")
    parser.add_argument("--tp", type=int, nargs="+", default=[1, 2], help="tensor-parallel sizes")
    parser.add_argument("--kernels", nargs="+", default=["torch", "triton"],
                        choices=["torch", "triton"], help="triton runs interpreted")  # fmt: skip
    args = parser.parse_args(argv)
    import sglang
    import torch.multiprocessing as mp

    report: dict[str, Any] = {"sglang": sglang.__version__, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder
        if folder is None:
            from stepaudio_codec.tiny.step1_llm import write_tiny_step1

            folder = Path(scratch) / "Step-Audio-TTS-3B"
            write_tiny_step1(folder, "tts-3b", seed=SEED)
        kernels = sorted(set(args.kernels), key=["torch", "triton"].index)
        for tp in args.tp:
            out = Path(scratch) / f"tp{tp}.json"
            mp.start_processes(
                rank_main, args=(tp, free_port(), str(folder), kernels, str(out)),
                nprocs=tp, join=True, start_method="spawn",
            )  # fmt: skip
            result = json.loads(out.read_text())
            report.update({f"tp{tp}/{key}": value for key, value in result.items()})
    diffs = [value for key, value in report.items() if key.startswith("tp")]
    report.update(matched=max(diffs) <= TOLERANCE, worst=max(diffs), tolerance=TOLERANCE)
    print(json.dumps(report))
    return 0 if report["matched"] else 1


if __name__ == "__main__":
    sys.exit(main())
