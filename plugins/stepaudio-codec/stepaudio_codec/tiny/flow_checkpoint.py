"""Tiny (or real-size) random flow checkpoints in the released layout: ``cosyvoice.yaml`` (the
hyperpyyaml file, tags and all) and ``flow.pt`` (a torch.save'd state dict of
MaskedDiffWithXvec), plus the real-size manifest derived from the same module code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from stepaudio_codec.decoder import cosyvoice_yaml as cy
from stepaudio_codec.decoder.flow import FlowDecoder, flow_config_from_spec

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifests" / "flow.json"

MANIFEST_SOURCE = (
    "Names and shapes of Step-Audio-TTS-3B/CosyVoice-300M-25Hz/flow.pt (and -Music/, same "
    "layout), from our FlowDecoder built on the meta device with "
    "cosyvoice_yaml.released_flow_kwargs(). CERTAIN: the module tree and tensor names/shapes "
    "per config, read from Step-Audio's cosyvoice/ sources (flow/flow.py MaskedDiffWithXvec, "
    "flow/length_regulator.py, flow/decoder.py ConditionalDecoder with matcha/diffusers "
    "BasicTransformerBlock, transformer/encoder.py ConformerEncoder with LinearNoSubsampling, "
    "EspnetRelPositionalEncoding (no parameters) and RelPositionMultiHeadedAttention), and that "
    "the flow reads the interleaved dual-codebook stream minus 65536 (vq02 c -> c, vq06 c -> "
    "1024 + c: ids 0..5119, 5 per 120 ms) per tts.py/tokenizer.py. INFERRED (the released "
    "cosyvoice.yaml was not found in any public source we could search): the sizes are those of "
    "CosyVoice-300M's flow (CosyVoice examples/libritts/cosyvoice/conf/cosyvoice.yaml: input 512,"
    " Conformer 512/8 heads/2048/6 blocks without macaron or conv module, regulator 80 ch x 4, "
    "estimator [256, 256], 4 transformer blocks, 12 mid blocks, 8 heads x 64, gelu), "
    "vocab_size 5120 (the smallest size holding ids 0..5119; input_embedding.weight's first "
    "dimension is the one shape that may differ) and input_frame_rate 125/3 (5 tokens per "
    "120 ms). At run time the folder's own cosyvoice.yaml decides; flow.pt is checked against it."
)


def tiny_flow_kwargs() -> dict[str, Any]:
    """The released structure (every kind of block, released vocab/mel/speaker sizes), small."""
    kwargs = cy.released_flow_kwargs()
    kwargs["input_size"] = 32
    kwargs["encoder"].update(
        output_size=32, attention_heads=2, linear_units=64, num_blocks=2, input_size=32
    )
    kwargs["decoder"]["estimator"].update(
        channels=[32, 32], n_blocks=1, num_mid_blocks=1, num_heads=2, attention_head_dim=16
    )
    return kwargs


def _randomise(model: FlowDecoder, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Fan-in scaled normal weights; norms near 1 and biases near 0, so activations stay sane."""
    state = {}
    for name, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if not tensor.is_floating_point():
            state[name] = torch.zeros(shape, dtype=tensor.dtype)  # BatchNorm's batch counter
            continue
        noise = torch.randn(shape, generator=generator)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            value = 1.0 + 0.1 * noise.abs()
        elif leaf in ("bias", "running_mean", "pos_bias_u", "pos_bias_v"):
            value = 0.02 * noise
        elif tensor.dim() == 1:  # LayerNorm / GroupNorm / BatchNorm scales
            value = 1.0 + 0.05 * noise
        else:
            fan_in = max(1, tensor[0].numel()) if "input_embedding" not in name else 1
            value = noise / fan_in**0.5
        state[name] = value.to(torch.float32).contiguous()
    return state


def write_tiny_flow(
    folder: Path | str,
    seed: int = 0,
    real: bool = False,
    hift_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Writes ``folder/cosyvoice.yaml`` and ``folder/flow.pt``; returns the folder. ``real``
    writes the released sizes (about 100 M parameters: slow and ~0.4 GB, not for tests)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flow_kwargs = cy.released_flow_kwargs() if real else tiny_flow_kwargs()
    cy.write_cosyvoice_yaml(
        folder / "cosyvoice.yaml",
        flow_kwargs,
        hift_kwargs if hift_kwargs is not None else cy.released_hift_kwargs(),
    )
    config = flow_config_from_spec(cy.flow_spec(flow_kwargs))
    model = FlowDecoder(config, device="meta")
    generator = torch.Generator().manual_seed(seed)
    torch.save(_randomise(model, generator), folder / "flow.pt")
    return folder


def flow_manifest() -> dict[str, Any]:
    """The real-size tensor names and shapes, from the module code (no weights needed)."""
    config = flow_config_from_spec(cy.flow_spec(cy.released_flow_kwargs()))
    model = FlowDecoder(config, device="meta")
    tensors = {name: list(t.shape) for name, t in model.state_dict().items()}
    return {"_source": MANIFEST_SOURCE, "tensors": tensors}


def write_flow_manifest(path: Path | str = MANIFEST_PATH) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flow_manifest(), indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_flow_manifest())
