"""The Step-1 LLM parts of Step-Audio-Chat/ and Step-Audio-TTS-3B/: tiny folders in the released
layout, the real-size manifests, the tokenizer's ids, and the folder checker's errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import sentencepiece
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.step1_folder import (
    INDEX_FILE,
    audio_token_id,
    check_step1_folder,
    step1_parameter_count,
    step1_tensor_shapes,
)
from stepaudio_codec.tiny import step1_llm
from stepaudio_codec.tiny.step1_llm import (
    FOLDER_NAMES,
    MANIFEST_FILES,
    STEP1_SIZES,
    step1_config,
    step1_manifest,
    tiny_step1_config,
    write_tiny_step1,
)

MANIFESTS = Path(__file__).resolve().parents[1] / "stepaudio_codec" / "manifests"
KINDS = ("chat", "tts-3b")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("step1")
    out = {}
    for kind, shards in (("chat", 3), ("tts-3b", 2)):
        out[kind] = root / FOLDER_NAMES[kind]
        write_tiny_step1(out[kind], kind, seed=0, shards=shards)
    return out


def _linked_copy(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> Path:
    """A cheap copy of a folder (symlinks), leaving out ``skip``."""
    dst.mkdir()
    for item in src.iterdir():
        if item.name not in skip:
            (dst / item.name).symlink_to(item)
    return dst


@pytest.mark.parametrize("kind", KINDS)
def test_config_has_the_released_keys(folders: dict[str, Path], kind: str) -> None:
    config = json.loads((folders[kind] / "config.json").read_text())
    assert config == tiny_step1_config(kind)
    assert config["architectures"] == ["Step1ForCausalLM"] and config["model_type"] == "step1"
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_step1.Step1ForCausalLM"
    assert config["vocab_size"] == 74752 and config["max_seq_len"] == 32768
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 3, 0)
    assert config["tie_word_embeddings"] is False and config["torch_dtype"] == "bfloat16"
    real = step1_config(kind, real=True)
    assert {k: real[k] for k in STEP1_SIZES[kind]} == STEP1_SIZES[kind]
    # the tiny stand-in keeps the real head dim, and grouped-query attention
    assert config["hidden_size"] // config["num_attention_heads"] == (
        real["hidden_size"] // real["num_attention_heads"]
    )
    assert config["num_attention_heads"] > config["num_attention_groups"]
    assert not (folders[kind] / "modeling_step1.py").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_shards_hold_every_tensor_once_as_the_index_says(
    folders: dict[str, Path], kind: str
) -> None:
    folder = folders[kind]
    expected = step1_tensor_shapes(tiny_step1_config(kind))
    index = json.loads((folder / INDEX_FILE).read_text())
    assert set(index["weight_map"]) == set(expected)
    seen: dict[str, tuple[int, ...]] = {}
    total = 0
    for shard in sorted(set(index["weight_map"].values())):
        assert (folder / shard).is_file()
        tensors = load_file(folder / shard)
        assert {n for n, f in index["weight_map"].items() if f == shard} == set(tensors)
        for name, tensor in tensors.items():
            assert tensor.dtype == torch.bfloat16 and name not in seen
            seen[name] = tuple(tensor.shape)
            total += tensor.numel() * 2
    assert seen == expected
    tensors = {}
    for shard in folder.glob("model-*.safetensors"):
        tensors.update(load_file(shard))
    assert not torch.equal(tensors["lm_head.weight"], tensors["model.embed_tokens.weight"])
    assert index["metadata"]["total_size"] == total
    assert check_step1_folder(folder)["hidden_size"] == tiny_step1_config(kind)["hidden_size"]


def test_writer_is_seeded(tmp_path: Path, folders: dict[str, Path]) -> None:
    write_tiny_step1(tmp_path / "again", "tts-3b", seed=0, shards=1)
    name = "model.layers.1.mlp.down_proj.weight"
    shapes = step1_tensor_shapes(tiny_step1_config("tts-3b"))
    step1_llm._write_streamed_shard(tmp_path / "other.safetensors", shapes, [name], seed=1)
    index = json.loads((folders["tts-3b"] / INDEX_FILE).read_text())
    with safe_open(folders["tts-3b"] / index["weight_map"][name], "pt") as shard:
        first = shard.get_tensor(name)
    again = load_file(tmp_path / "again" / "model.safetensors")
    assert torch.equal(again[name], first)  # the values do not depend on the sharding
    assert not torch.equal(load_file(tmp_path / "other.safetensors")[name], first)
    assert not (tmp_path / "again" / INDEX_FILE).exists()  # one shard: no index, as HF writes it
    write_tiny_step1(tmp_path / "again", "chat", shards=3)  # over it: no stale shard is left
    assert len(list((tmp_path / "again").glob("*.safetensors"))) == 3
    assert 0.01 < first.float().std().item() < 0.03


def test_streamed_writing_in_small_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real-size writer draws big tensors block by block; blocks must continue the random
    stream (a block that restarted it would repeat rows) and land at the right offsets."""
    monkeypatch.setattr(step1_llm, "_CHUNK_ELEMENTS", 256 * 7)
    write_tiny_step1(tmp_path, "tts-3b", shards=1)
    assert check_step1_folder(tmp_path)["num_hidden_layers"] == 2
    embed = load_file(tmp_path / "model.safetensors")["model.embed_tokens.weight"]
    assert embed.shape == (74752, 256)
    assert not torch.equal(embed[:7], embed[7:14])
    assert 0.015 < embed[-7:].float().std().item() < 0.025


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizer_has_the_released_ids(folders: dict[str, Path], kind: str) -> None:
    sp = sentencepiece.SentencePieceProcessor(model_file=str(folders[kind] / "tokenizer.model"))
    assert sp.get_piece_size() == 74752
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2)
    assert sp.piece_to_id("<|EOT|>") == 3 and sp.piece_to_id("<|BOT|>") == 4
    assert sp.piece_to_id("<audio_5>") == 65541 and sp.piece_to_id("<audio_5119>") == 70655
    assert sp.piece_to_id("<0x0A>") == 78
    ids = sp.encode("human\n你好 hello")
    assert [sp.id_to_piece(i) for i in ids] == ["\u2581human", "<0x0A>", "你好", "\u2581hello"]
    assert sp.decode(ids) == "human\n你好 hello"
    audio = [audio_token_id(7, "vq02"), audio_token_id(7, "vq06")]
    assert audio == [65543, 66567]
    assert sp.encode("<audio_7><audio_1031><|EOT|>")[-3:] == [*audio, 3]
    tokenizer_config = json.loads((folders[kind] / "tokenizer_config.json").read_text())
    assert tokenizer_config["added_tokens_decoder"]["4"]["content"] == "<|BOT|>"
    assert ("chat_template" in tokenizer_config) == (kind == "chat")


def _reference_logits(folder: Path, ids: list[int]) -> torch.Tensor:
    """Step-1 straight from its formulas, in float32: pre-norm RMSNorm blocks, GQA whose heads
    use KV group ``h // (heads / groups)``, the sqrt-ALiBi bias ``-slope_h * sqrt(i - j)``
    (slopes 2^(-8k/n) for the largest power of two n <= heads, then 2^(-4(2k-1)/n)), SwiGLU."""
    config = json.loads((folder / "config.json").read_text())
    weights = {}
    for shard in folder.glob("model-*.safetensors"):
        weights.update({k: v.float() for k, v in load_file(shard).items()})
    heads, groups = config["num_attention_heads"], config["num_attention_groups"]
    n = 2 ** math.floor(math.log2(heads))
    slopes = [2 ** (-8 * k / n) for k in range(1, n + 1)]
    slopes += [2 ** (-4 * (2 * k - 1) / n) for k in range(1, heads - n + 1)]

    def norm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + config["rms_norm_eps"]) * w

    t = len(ids)
    x = weights["model.embed_tokens.weight"][torch.tensor(ids)]
    dim = config["hidden_size"] // heads
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = norm(x, weights[p + "input_layernorm.weight"])
        q = (h @ weights[p + "self_attn.q_proj.weight"].T).view(t, heads, dim)
        k = (h @ weights[p + "self_attn.k_proj.weight"].T).view(t, groups, dim)
        v = (h @ weights[p + "self_attn.v_proj.weight"].T).view(t, groups, dim)
        out = torch.zeros(t, heads, dim)
        for head in range(heads):
            g = head // (heads // groups)
            for i in range(t):
                scores = torch.stack(
                    [
                        q[i, head] @ k[j, g] / math.sqrt(dim) - slopes[head] * math.sqrt(i - j)
                        for j in range(i + 1)
                    ]
                )
                out[i, head] = torch.softmax(scores, 0) @ v[: i + 1, g]
        x = x + out.reshape(t, -1) @ weights[p + "self_attn.o_proj.weight"].T
        h = norm(x, weights[p + "post_attention_layernorm.weight"])
        gate = torch.nn.functional.silu(h @ weights[p + "mlp.gate_proj.weight"].T)
        x = (
            x
            + (gate * (h @ weights[p + "mlp.up_proj.weight"].T))
            @ weights[p + "mlp.down_proj.weight"].T
        )
    return norm(x, weights["model.norm.weight"]) @ weights["lm_head.weight"].T


def test_tiny_weights_make_a_working_model(folders: dict[str, Path]) -> None:
    ids = [1, 4, 349, 78, 65541, 66567, 3, 4]
    logits = _reference_logits(folders["tts-3b"], ids)
    assert logits.shape == (len(ids), 74752) and torch.isfinite(logits).all()
    assert logits.std(dim=-1).min() > 0.01  # not a constant model
    assert not torch.allclose(logits[0], logits[-1])  # and one that looks at its input


def _meta_module_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The released module tree (Step1ForCausalLM: model.{embed_tokens, layers, norm} and lm_head)
    rebuilt from torch.nn on the meta device, so the shapes come from torch, not our formula."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv = config["num_attention_groups"] * hidden // heads
    inner = config["intermediate_size"]
    nn = torch.nn

    def linear(inputs: int, outputs: int) -> torch.nn.Linear:
        return nn.Linear(inputs, outputs, bias=False)

    def layer() -> torch.nn.ModuleDict:
        attention = {"q_proj": linear(hidden, hidden), "k_proj": linear(hidden, kv)}
        attention |= {"v_proj": linear(hidden, kv), "o_proj": linear(hidden, hidden)}
        mlp = {"gate_proj": linear(hidden, inner), "up_proj": linear(hidden, inner)}
        mlp["down_proj"] = linear(inner, hidden)
        return nn.ModuleDict(
            {
                "self_attn": nn.ModuleDict(attention),
                "mlp": nn.ModuleDict(mlp),
                "input_layernorm": nn.RMSNorm(hidden),
                "post_attention_layernorm": nn.RMSNorm(hidden),
            }
        )

    with torch.device("meta"):
        model = nn.ModuleDict(
            {
                "embed_tokens": nn.Embedding(config["vocab_size"], hidden),
                "layers": nn.ModuleList(layer() for _ in range(config["num_hidden_layers"])),
                "norm": nn.RMSNorm(hidden),
            }
        )
        tree = nn.ModuleDict({"model": model, "lm_head": linear(hidden, config["vocab_size"])})
    return {name: tuple(p.shape) for name, p in tree.named_parameters()}


@pytest.mark.parametrize(
    ("kind", "low", "high"), [("chat", 125e9, 140e9), ("tts-3b", 3.3e9, 3.7e9)]
)
def test_real_size_manifest(kind: str, low: float, high: float) -> None:
    manifest = json.loads((MANIFESTS / MANIFEST_FILES[kind]).read_text())
    assert manifest == step1_manifest(kind)
    config = step1_config(kind, real=True)
    shapes = {name: tuple(shape) for name, shape in manifest["tensors"].items()}
    assert shapes == _meta_module_shapes(config)
    assert len(shapes) == 9 * config["num_hidden_layers"] + 3
    count = step1_parameter_count(config)
    print(f"{FOLDER_NAMES[kind]}: {count / 1e9:.2f}B parameters, {count * 2 / 1e9:.1f} GB in bf16")
    assert low < count < high


def test_missing_files_are_named(tmp_path: Path, folders: dict[str, Path]) -> None:
    src = folders["tts-3b"]
    for skip in ("config.json", "model-00002-of-00002.safetensors", "tokenizer.model"):
        broken = _linked_copy(src, tmp_path / skip.replace(".", "_"), skip=(skip,))
        with pytest.raises(CheckpointError, match=re.escape(f"{skip}: missing file")):
            check_step1_folder(broken)


def test_wrong_shape_names_tensor_and_both_shapes(tmp_path: Path, folders: dict[str, Path]) -> None:
    broken = _linked_copy(folders["tts-3b"], tmp_path / "wide", skip=("config.json",))
    config = tiny_step1_config("tts-3b") | {"intermediate_size": 640}
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as error:
        check_step1_folder(broken)
    message = str(error.value)
    assert "model-00001-of-00002.safetensors" in message and "mlp.gate_proj.weight" in message
    assert "layers.0.mlp.gate_proj.weight has shape [512, 256]" in message
    assert "[640, 256]" in message


def test_corrupt_and_inconsistent_files(tmp_path: Path, folders: dict[str, Path]) -> None:
    src = folders["tts-3b"]
    broken = _linked_copy(src, tmp_path / "corrupt", skip=("model-00001-of-00002.safetensors",))
    (broken / "model-00001-of-00002.safetensors").write_bytes(
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json"
    )
    with pytest.raises(
        CheckpointError, match=re.escape("model-00001-of-00002.safetensors: unreadable")
    ):
        check_step1_folder(broken)
    broken = _linked_copy(src, tmp_path / "badtok", skip=("tokenizer.model",))
    (broken / "tokenizer.model").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=re.escape("tokenizer.model: unreadable")):
        check_step1_folder(broken)
    broken = _linked_copy(src, tmp_path / "index", skip=(INDEX_FILE,))
    index = json.loads((src / INDEX_FILE).read_text())
    index["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors"
    (broken / INDEX_FILE).write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=re.escape("lacks model.norm.weight")):
        check_step1_folder(broken)
    broken = _linked_copy(src, tmp_path / "notstep1", skip=("config.json",))
    (broken / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(CheckpointError, match=re.escape("config.json: not a Step-1 config")):
        check_step1_folder(broken)
