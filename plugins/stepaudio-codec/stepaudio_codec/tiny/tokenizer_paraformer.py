"""A random Paraformer folder in the released layout, and the manifest of the real one.

`write_tiny_paraformer` writes what `Step-Audio-Tokenizer/` holds for vq02: the FunASR model
folder `dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/`
(config.yaml, model.pt with the encoder, predictor and decoder tensors, am.mvn, tokens.json,
configuration.json) and `linguistic_tokenizer.npy`. Tiny sizes keep every kind of block; `real`
writes the released sizes (about 220 M parameters; for the GPU machine, not for tests).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from stepaudio_codec.folders import PARAFORMER_DIR
from stepaudio_codec.tokenizer.linguistic import CODEBOOK_FILE, CODEBOOK_SIZE
from stepaudio_codec.tokenizer.sanm_encoder import SanmChunkEncoder, SanmEncoderConfig

FEATURE_DIM = 80 * 7
REAL_SIZES = {"d": 512, "heads": 4, "units": 2048, "blocks": 50, "dec_blocks": 16, "vocab": 8501}
TINY_SIZES = {"d": 32, "heads": 2, "units": 64, "blocks": 3, "dec_blocks": 2, "vocab": 12}
KERNEL_SIZE = 11
MANIFEST = Path(__file__).resolve().parent.parent / "manifests" / "paraformer.json"


def paraformer_config(sizes: dict[str, int]) -> dict[str, Any]:
    """config.yaml as FunASR's ParaformerStreaming template has it (the model's sections)."""
    return {
        "model": "ParaformerStreaming",
        "model_conf": {
            "ctc_weight": 0.0,
            "lsm_weight": 0.1,
            "length_normalized_loss": True,
            "predictor_weight": 1.0,
            "predictor_bias": 1,
            "sampling_ratio": 0.75,
        },
        "encoder": "SANMEncoderChunkOpt",
        "encoder_conf": {
            "output_size": sizes["d"],
            "attention_heads": sizes["heads"],
            "linear_units": sizes["units"],
            "num_blocks": sizes["blocks"],
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "attention_dropout_rate": 0.1,
            "input_layer": "pe_online",
            "pos_enc_class": "SinusoidalPositionEncoder",
            "normalize_before": True,
            "kernel_size": KERNEL_SIZE,
            "sanm_shfit": 0,
            "selfattention_layer_type": "sanm",
            "chunk_size": [12, 15],
            "stride": [8, 10],
            "pad_left": [0, 0],
            "encoder_att_look_back_factor": [4, 4],
            "decoder_att_look_back_factor": [1, 1],
        },
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {
            "attention_heads": sizes["heads"],
            "linear_units": sizes["units"],
            "num_blocks": sizes["dec_blocks"],
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "self_attention_dropout_rate": 0.1,
            "src_attention_dropout_rate": 0.1,
            "att_layer_num": sizes["dec_blocks"],
            "kernel_size": KERNEL_SIZE,
            "sanm_shfit": 5,
        },
        "predictor": "CifPredictorV2",
        "predictor_conf": {
            "idim": sizes["d"],
            "threshold": 1.0,
            "l_order": 1,
            "r_order": 1,
            "tail_threshold": 0.45,
        },
        "frontend": "WavFrontendOnline",
        "frontend_conf": {
            "fs": 16000,
            "window": "hamming",
            "n_mels": 80,
            "frame_length": 25,
            "frame_shift": 10,
            "lfr_m": 7,
            "lfr_n": 6,
        },
        "specaug": "SpecAugLFR",
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True},
        "normalize": None,
    }


def encoder_shapes(config: dict[str, Any]) -> dict[str, list[int]]:
    """model.pt's encoder.* names and shapes, from the module built on the meta device."""
    encoder_config = SanmEncoderConfig.from_yaml(config["encoder_conf"], FEATURE_DIM)
    module = SanmChunkEncoder(encoder_config, device="meta")
    return {f"encoder.{k}": list(v.shape) for k, v in module.state_dict().items()}


def non_encoder_shapes(config: dict[str, Any], vocab: int) -> dict[str, list[int]]:
    """model.pt's decoder.* and predictor.* (ParaformerSANMDecoder, CifPredictorV2), read off
    FunASR's module definitions; vq02 does not use them, the loader ignores them."""
    d = config["encoder_conf"]["output_size"]
    dec = config["decoder_conf"]
    units, kernel = dec["linear_units"], dec["kernel_size"]
    shapes: dict[str, list[int]] = {
        "decoder.embed.0.weight": [vocab, d],
        "decoder.after_norm.weight": [d],
        "decoder.after_norm.bias": [d],
        "decoder.output_layer.weight": [vocab, d],
        "decoder.output_layer.bias": [vocab],
    }

    def feed_forward(prefix: str) -> None:
        shapes.update({
            f"{prefix}feed_forward.w_1.weight": [units, d],
            f"{prefix}feed_forward.w_1.bias": [units],
            f"{prefix}feed_forward.w_2.weight": [d, units],
            f"{prefix}feed_forward.norm.weight": [units],
            f"{prefix}feed_forward.norm.bias": [units],
        })  # fmt: skip

    def norms(prefix: str, names: tuple[str, ...]) -> None:
        for name in names:
            shapes[f"{prefix}{name}.weight"] = [d]
            shapes[f"{prefix}{name}.bias"] = [d]

    for i in range(dec["att_layer_num"]):
        p = f"decoder.decoders.{i}."
        shapes[f"{p}self_attn.fsmn_block.weight"] = [d, 1, kernel]
        for name, rows in (("linear_q", d), ("linear_k_v", 2 * d), ("linear_out", d)):
            shapes[f"{p}src_attn.{name}.weight"] = [rows, d]
            shapes[f"{p}src_attn.{name}.bias"] = [rows]
        feed_forward(p)
        norms(p, ("norm1", "norm2", "norm3"))
    for i in range(dec["num_blocks"] - dec["att_layer_num"]):
        p = f"decoder.decoders2.{i}."
        shapes[f"{p}self_attn.fsmn_block.weight"] = [d, 1, kernel]
        feed_forward(p)
        norms(p, ("norm1", "norm2"))
    feed_forward("decoder.decoders3.0.")
    norms("decoder.decoders3.0.", ("norm1",))
    pred = config["predictor_conf"]
    width = pred["l_order"] + pred["r_order"] + 1
    shapes["predictor.cif_conv1d.weight"] = [d, d, width]
    shapes["predictor.cif_conv1d.bias"] = [d]
    shapes["predictor.cif_output.weight"] = [1, d]
    shapes["predictor.cif_output.bias"] = [1]
    return shapes


def _random_tensor(name: str, shape: list[int], gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(shape, generator=gen)
    if len(shape) == 1:
        is_norm_gain = name.endswith(".weight") and "norm" in name
        return 1.0 + 0.05 * noise if is_norm_gain else 0.02 * noise
    return noise / math.sqrt(math.prod(shape[1:]))


def _am_mvn_text(shift: np.ndarray, scale: np.ndarray) -> str:
    dim = shift.size

    def row(values: np.ndarray) -> str:
        return "<LearnRateCoef> 0 [ " + " ".join(f"{v:.6f}" for v in values) + " ]"

    return "\n".join([
        "<Nnet>", f"<Splice> {dim} {dim}", "[ 0 ]",
        f"<AddShift> {dim} {dim}", row(shift), f"<Rescale> {dim} {dim}", row(scale), "</Nnet>", "",
    ])  # fmt: skip


CONFIGURATION_JSON = {
    "framework": "pytorch",
    "task": "auto-speech-recognition",
    "model": {"type": "funasr"},
    "pipeline": {"type": "funasr-pipeline"},
    "model_name_in_hub": {"ms": "", "hf": ""},
    "file_path_metas": {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json"},
        "frontend_conf": {"cmvn_file": "am.mvn"},
    },
}


def write_tiny_paraformer(tokenizer_dir: Path, seed: int = 0, real: bool = False) -> Path:
    """Writes the vq02 files under `tokenizer_dir`; returns the Paraformer model folder."""
    sizes = REAL_SIZES if real else TINY_SIZES
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    model_dir = Path(tokenizer_dir) / PARAFORMER_DIR
    model_dir.mkdir(parents=True, exist_ok=True)
    config = paraformer_config(sizes)
    (model_dir / "config.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    shapes = {**encoder_shapes(config), **non_encoder_shapes(config, sizes["vocab"])}
    state = {name: _random_tensor(name, shape, gen) for name, shape in shapes.items()}
    torch.save(state, model_dir / "model.pt")
    # log-mel means sit around -8 .. -14, the inverse deviations around 0.1 .. 0.35
    shift = -rng.uniform(8.0, 14.0, FEATURE_DIM)
    scale = rng.uniform(0.1, 0.35, FEATURE_DIM)
    (model_dir / "am.mvn").write_text(_am_mvn_text(shift, scale), encoding="utf-8")
    tokens = ["<blank>", "<s>", "</s>"]
    tokens += [f"tok{i}" for i in range(sizes["vocab"] - 4)] + ["<unk>"]
    (model_dir / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), "utf-8")
    (model_dir / "configuration.json").write_text(json.dumps(CONFIGURATION_JSON, indent=2), "utf-8")
    codebook = rng.standard_normal((CODEBOOK_SIZE, sizes["d"])).astype(np.float32)
    np.save(Path(tokenizer_dir) / CODEBOOK_FILE, codebook)
    return model_dir


def build_manifest() -> dict[str, Any]:
    """The manifest of the released model.pt, from the real-size config."""
    config = paraformer_config(REAL_SIZES)
    return {
        "_source": (
            "Built by stepaudio_codec.tiny.tokenizer_paraformer.build_manifest from FunASR's "
            "ParaformerStreaming template (Step-Audio funasr_detach/models/paraformer_streaming/"
            "template.yaml: SANMEncoderChunkOpt output_size 512, 4 heads, linear_units 2048, "
            "50 blocks, kernel 11, pe_online; input 80 mels x lfr 7 = 560) and the module "
            "definitions in scama/encoder.py and sanm/attention.py. Certain: the encoder's names "
            "and shapes (the 1024 x 512 linguistic_tokenizer.npy fixes the width; the layout "
            "matches published ports of this checkpoint). Inferred, marked non_encoder_tensors "
            "and not used by vq02: the decoder (ParaformerSANMDecoder, 16 blocks, vocab 8501 from "
            "the model name) and the CifPredictorV2 predictor, read off FunASR's modules."
        ),
        "tensors": encoder_shapes(config),
        "non_encoder_tensors": non_encoder_shapes(config, REAL_SIZES["vocab"]),
    }


def write_manifest(path: Path = MANIFEST) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_manifest(), indent=1) + "\n", encoding="utf-8")
