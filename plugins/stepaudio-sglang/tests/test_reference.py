"""The plain-PyTorch Step-1 against a literal reading of the formulas, its KV cache against the
full forward, tensor-parallel slices against the whole, and its command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stepaudio_sglang.alibi import alibi_slopes, rank_heads, sqrt_alibi_bias
from stepaudio_sglang.config import Step1Config, Step1FolderError
from stepaudio_sglang.reference import Step1Model, Step1Tokenizer, sqrt_alibi_attention


@pytest.fixture(scope="module")
def tiny_tts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stepaudio_codec.tiny.step1_llm import write_tiny_step1

    folder = tmp_path_factory.mktemp("Step-Audio-TTS-3B")
    write_tiny_step1(folder, "tts-3b", seed=3)
    return folder


def random_model(heads: int, kv_heads: int, head_dim: int = 8, seed: int = 0) -> Step1Model:
    config = Step1Config(
        hidden_size=heads * head_dim,
        intermediate_size=48,
        num_attention_heads=heads,
        num_attention_groups=kv_heads,
        num_hidden_layers=2,
        vocab_size=97,
    )
    torch.manual_seed(seed)
    model = Step1Model(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
            else:
                parameter.normal_(0, 0.3)
    return model


def literal_logits(model: Step1Model, ids: list[int]) -> torch.Tensor:
    """Step-1 written out position by position and head by head from the formulas."""
    c = model.config
    w = {name: t.double() for name, t in model.state_dict().items()}
    d, group = c.head_dim, c.num_attention_heads // c.num_attention_groups
    n = 2 ** math.floor(math.log2(c.num_attention_heads))
    slopes = [(2 ** (-8 / n)) ** k for k in range(1, n + 1)]
    slopes += [(2 ** (-4 / n)) ** k for k in range(1, 2 * (c.num_attention_heads - n), 2)]

    def rms(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + c.rms_norm_eps) * weight

    x = w["model.embed_tokens.weight"][ids]
    for layer in range(c.num_hidden_layers):
        p = f"model.layers.{layer}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = h @ w[p + "self_attn.q_proj.weight"].T
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T
        out = torch.zeros_like(q)
        for i in range(len(ids)):
            for head in range(c.num_attention_heads):
                g = head // group
                qi = q[i, head * d : (head + 1) * d]
                scores = torch.tensor(
                    [float(qi @ k[j, g * d : (g + 1) * d]) / math.sqrt(d)
                     - slopes[head] * math.sqrt(i - j) for j in range(i + 1)],
                    dtype=torch.float64,
                )  # fmt: skip
                weights = torch.softmax(scores, 0)
                out[i, head * d : (head + 1) * d] = sum(
                    weights[j] * v[j, g * d : (g + 1) * d] for j in range(i + 1)
                )
        x = x + out @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    return rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T


def test_slopes_follow_alibi_for_powers_of_two_and_others() -> None:
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0**-k for k in range(1, 9)]))
    # 6 heads: n = 4 gives 2^-2, 2^-4, 2^-6, 2^-8, then 2^-1, 2^-3 for the two left
    expected = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    assert torch.allclose(alibi_slopes(6), torch.tensor(expected))
    assert len(alibi_slopes(96)) == 96 and len(alibi_slopes(48)) == 48
    bias = sqrt_alibi_bias(torch.tensor([0.5]), torch.arange(3), torch.arange(3))[0]
    assert bias[2, 0] == pytest.approx(-0.5 * math.sqrt(2)) and bias[1, 1] == 0
    assert bias[0, 1] == float("-inf")


@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 2), (6, 3), (6, 1), (8, 8)])
def test_reference_equals_the_formulas(heads: int, kv_heads: int) -> None:
    model = random_model(heads, kv_heads)
    ids = [1, 4, 17, 33, 5, 96, 12]
    got = model(torch.tensor(ids))[0].double()
    assert torch.allclose(got, literal_logits(model, ids), atol=1e-5, rtol=1e-5)


def test_decoding_with_the_cache_equals_the_full_forward(tiny_tts: Path) -> None:
    model = Step1Model.from_folder(tiny_tts)
    ids = torch.tensor([[1, 4, 347, 348, 3, 4, 65536, 66600, 70000, 5]])
    full = model(ids)
    cache = model.new_cache()
    pieces = [model(ids[:, :4], cache)]  # a prefill, then one token at a time
    pieces += [model(ids[:, i : i + 1], cache) for i in range(4, ids.shape[1])]
    assert cache.length == ids.shape[1]
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-5)
    batch = model(torch.cat([ids, ids.flip(1)]))  # rows of a batch do not see each other
    assert torch.allclose(batch[:1], full, atol=1e-5)


@pytest.mark.parametrize("tp_size", [2, 4])
def test_tensor_parallel_slices_recombine(tp_size: int) -> None:
    model = random_model(heads=8, kv_heads=2, seed=1)
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    c, d = model.config, model.config.head_dim
    x = torch.randn(1, 5, c.hidden_size)
    want_attn, want_mlp = attn(x, None), mlp(x)
    got_attn, got_mlp = torch.zeros_like(want_attn), torch.zeros_like(want_mlp)
    slopes = alibi_slopes(c.num_attention_heads)
    inner = c.intermediate_size // tp_size
    for rank in range(tp_size):
        part = rank_heads(c.num_attention_heads, c.num_attention_groups, tp_size, rank)
        rows = torch.cat([torch.arange(h * d, (h + 1) * d) for h in part.heads])
        kv_rows = torch.cat([torch.arange(g * d, (g + 1) * d) for g in part.kv_heads])

        def heads_of(t: torch.Tensor, n: int) -> torch.Tensor:
            return t.view(1, 5, n, d).transpose(1, 2)

        q = heads_of(x @ attn.q_proj.weight[rows].T, len(part.heads))
        k = heads_of(x @ attn.k_proj.weight[kv_rows].T, len(part.kv_heads))
        v = heads_of(x @ attn.v_proj.weight[kv_rows].T, len(part.kv_heads))
        out = sqrt_alibi_attention(q, k, v, slopes[list(part.heads)], 0)
        got_attn += out.transpose(1, 2).reshape(1, 5, -1) @ attn.o_proj.weight[:, rows].T
        cols = slice(rank * inner, (rank + 1) * inner)
        hidden = torch.nn.functional.silu(x @ mlp.gate_proj.weight[cols].T)
        got_mlp += (hidden * (x @ mlp.up_proj.weight[cols].T)) @ mlp.down_proj.weight[:, cols].T
    assert torch.allclose(got_attn, want_attn, atol=1e-5)
    assert torch.allclose(got_mlp, want_mlp, atol=1e-5)


def test_rank_heads_split_and_replicate() -> None:
    assert rank_heads(48, 4, 4, 3).heads == range(36, 48)
    assert rank_heads(48, 4, 4, 3).kv_heads == range(3, 4)
    assert rank_heads(96, 8, 16, 5).kv_heads == range(2, 3)  # 16 ranks share 8 KV heads
    with pytest.raises(ValueError, match="do not split"):
        rank_heads(48, 4, 5, 0)


def test_the_command_prints_the_last_logits(tiny_tts: Path) -> None:
    ids = [1, 4, 347, 348, 3]
    result = subprocess.run(
        [sys.executable, "-m", "stepaudio_sglang.reference", str(tiny_tts),
         "--ids", ",".join(map(str, ids)), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    printed = json.loads(result.stdout)
    logits = Step1Model.from_folder(tiny_tts)(torch.tensor(ids))[0, -1]
    assert len(printed["logits"]) == 74752 and printed["argmax"] == int(logits.argmax())
    assert torch.allclose(torch.tensor(printed["logits"]), logits, atol=1e-5)


def test_a_broken_folder_is_named(tiny_tts: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_tts, broken)
    next(broken.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(Step1FolderError, match=r"model-00002-of-00002\.safetensors: missing"):
        Step1Model.from_folder(broken)
    result = subprocess.run(
        [sys.executable, "-m", "stepaudio_sglang.reference", str(broken), "--ids", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "missing file" in result.stderr
    config = json.loads((tiny_tts / "config.json").read_text())
    config["hidden_size"] = 512  # the weights no longer fit the config
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(Step1FolderError, match=r"shape|missing"):
        Step1Model.from_folder(broken)


def test_tokenizer_keeps_audio_pieces(tiny_tts: Path) -> None:
    tokenizer = Step1Tokenizer.from_folder(tiny_tts)
    assert tokenizer.encode("<audio_0><audio_1100>")[-2:] == [65536, 66636]  # after a "▁"
    assert tokenizer.decode([65536, 66636]) == "<audio_0><audio_1100>"
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"
