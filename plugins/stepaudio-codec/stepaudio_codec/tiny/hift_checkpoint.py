"""A tiny random hift.pt in the released layout, and the real-size manifest of that layout.

The tiny vocoder keeps every structural choice of CosyVoice-300M's HiFT (9 harmonics, two x8
upsamplers, the n_fft 16 / hop 4 iSTFT so 256 samples per frame, three Snake resblock kernels,
two source resblocks, five F0 convs) and shrinks only the channel counts. Its weights are scaled
so that the output is speech-like in range (mostly inside audio_limit) and the predicted F0
crosses the voiced threshold, so both the sine and the noise branches of the source are used.

`python -m stepaudio_codec.tiny.hift_checkpoint` rewrites manifests/hift.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from stepaudio_codec.decoder.hift import HiftVocoder
from stepaudio_codec.decoder.hift_config import HiftConfig
from stepaudio_codec.decoder.hift_layout import released_layout, to_released

MANIFEST = Path(__file__).resolve().parent.parent / "manifests" / "hift.json"

MANIFEST_SOURCE = (
    "Names and shapes of Step-Audio-TTS-3B/CosyVoice-300M-25Hz/hift.pt (and -Music/hift.pt), "
    "from our HiftVocoder built on the meta device with the hift kwargs of CosyVoice's "
    "examples/libritts/cosyvoice/conf/cosyvoice.yaml (CosyVoice-300M). CERTAIN: the module tree, "
    "read from Step-Audio's cosyvoice/hifigan/generator.py (HiFTGenerator, Snake ResBlock, "
    "SourceModuleHnNSF) and f0_predictor.py (ConvRNNF0Predictor); weight-normed convs are stored "
    "as weight_g [dim0,1,1] / weight_v since Step-Audio wraps them in the legacy "
    "torch.nn.utils.weight_norm and cosyvoice/cli/model.py loads hift.pt strictly; Snake alpha is "
    "[channels]; source_downs, m_source.l_linear and f0_predictor.classifier are plain. "
    "Cross-checked once against Step-Audio's own HiFTGenerator built on the meta device: the same "
    "227 names and shapes. INFERRED (not checked against the released file): that the hift "
    "section of the released -25Hz and -Music cosyvoice.yaml equals CosyVoice-300M's."
)


def tiny_hift_kwargs(real: bool = False) -> dict[str, Any]:
    """The yaml hift kwargs: CosyVoice-300M's when real, else the same structure, fewer channels."""
    kwargs = HiftConfig().to_kwargs()
    if not real:
        kwargs["base_channels"] = 32
        kwargs["f0_predictor"]["cond_channels"] = 32
    return kwargs


def write_tiny_hift(path: Path, kwargs: dict[str, Any], seed: int = 0) -> Path:
    """Write a seeded random hift.pt (weight_g/weight_v as released) for these kwargs."""
    generator = torch.Generator().manual_seed(seed)
    model = HiftVocoder(HiftConfig.from_kwargs(kwargs))
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(_random_value(name, param, generator))
    state = to_released(model)
    for name in [n for n in state if n.endswith(".weight_v")]:
        # a direction whose norm is not the gain, so that loading must really fold g * v / |v|
        scale = 0.5 + torch.rand(state[name].shape[0], generator=generator)
        state[name] = state[name] * scale.reshape((-1,) + (1,) * (state[name].dim() - 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def _random_value(name: str, param: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Fan-in scaled normal weights; F0 around 40 Hz, partly unvoiced; a moderate output."""
    shape = param.shape
    if name.endswith("alpha"):
        return 1.0 + 0.2 * torch.rand(shape, generator=generator)
    if name == "f0_predictor.classifier.bias":
        return torch.full(shape, 40.0)
    if name.endswith("bias"):
        value = 0.05 * torch.randn(shape, generator=generator)
        if name == "conv_post.bias":
            value[: shape[0] // 2] -= 0.5  # log-magnitudes: exp(-0.5) ~ 0.6
        return value
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
    if name.startswith("ups."):
        fan_in = shape[0] * shape[2] // (shape[2] // 2)  # a transposed conv's effective fan-in
    gain = 1.0
    if name == "f0_predictor.classifier.weight":
        gain = 120.0
    elif name == "conv_post.weight":
        gain = 0.5
    elif ".convs2." in name:
        gain = 0.5  # keep the residual sums from growing block after block
    return gain * torch.randn(shape, generator=generator) / math.sqrt(fan_in)


def build_hift_manifest() -> dict[str, Any]:
    """The real-size released layout, from the module built on the meta device."""
    model = HiftVocoder(HiftConfig.from_kwargs(tiny_hift_kwargs(real=True)), device="meta")
    tensors = {name: list(shape) for name, shape in released_layout(model).items()}
    return {"_source": MANIFEST_SOURCE, "tensors": tensors}


def main() -> None:
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(json.dumps(build_hift_manifest(), indent=1) + "\n")
    print(f"wrote {MANIFEST}")


if __name__ == "__main__":
    main()
