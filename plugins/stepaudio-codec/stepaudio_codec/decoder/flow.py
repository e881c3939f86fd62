"""Step-Audio's token-to-mel stage: CosyVoice's MaskedDiffWithXvec loaded from a released
``CosyVoice-300M-25Hz/`` folder (``cosyvoice.yaml`` + ``flow.pt``).

Inference as released: the prompt's tokens go before the new ones, are embedded and encoded
together, projected to 80 channels and stretched by linear interpolation (the prompt part to
the prompt mel's length, the rest to ``int(n / input_frame_rate * sample_rate / hop)`` frames);
the prompt mel conditions the first frames; a conditional flow (cosine time grid, Euler steps,
classifier-free guidance against an unconditioned estimate) turns noise into the mel; the
prompt frames are cut off."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stepaudio_codec.decoder import cosyvoice_yaml as cy
from stepaudio_codec.decoder.conformer import ConformerConfig, ConformerEncoder
from stepaudio_codec.decoder.flow_estimator import ConditionalDecoder, EstimatorConfig
from stepaudio_codec.decoder.prompt_mel import MelSettings
from stepaudio_codec.errors import CheckpointError, check_tensor_layout

YAML_NAME = "cosyvoice.yaml"
WEIGHTS_NAME = "flow.pt"
Estimator = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class FlowConfig:
    vocab_size: int
    input_size: int
    output_size: int
    spk_embed_dim: int
    input_frame_rate: float
    sample_rate: int
    hop_size: int
    encoder: ConformerConfig
    regulator_channels: int
    regulator_out_channels: int
    regulator_groups: int
    regulator_stages: int
    estimator: EstimatorConfig
    cfg_rate: float
    cosine_schedule: bool


def _expect(spec: Any, target: str, what: str) -> cy.Spec:
    if not isinstance(spec, cy.Spec) or spec.target != target or spec.partial:
        found = spec.target if isinstance(spec, cy.Spec) else type(spec).__name__
        raise ValueError(f"{what} is {found}, expected !new:{target}")
    return spec


def _only(kwargs: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(f"unknown {what} arguments {sorted(unknown)}")


def flow_config_from_spec(spec: Any) -> FlowConfig:
    """The yaml's ``flow`` Spec -> FlowConfig; ValueError says what is not as released."""
    flow = _expect(spec, cy.FLOW_TARGET, "flow")
    kw = flow.kwargs
    _only(
        kw,
        {"input_size", "output_size", "spk_embed_dim", "output_type", "vocab_size"}
        | {"input_frame_rate", "only_mask_loss", "encoder", "length_regulator", "decoder"}
        | {"decoder_conf", "mel_feat_conf"},
        "MaskedDiffWithXvec",
    )
    if kw.get("output_type", "mel") != "mel":
        raise ValueError(f"flow output_type={kw['output_type']!r}, expected 'mel'")
    output_size = int(kw.get("output_size", 80))
    encoder = ConformerConfig.from_kwargs(
        _expect(kw.get("encoder"), cy.ENCODER_TARGET, "encoder").kwargs
    )
    regulator = _expect(kw.get("length_regulator"), cy.REGULATOR_TARGET, "length_regulator").kwargs
    _only(
        regulator, {"channels", "sampling_ratios", "out_channels", "groups"}, "InterpolateRegulator"
    )
    cfm = _expect(kw.get("decoder"), cy.CFM_TARGET, "decoder").kwargs
    _only(
        cfm, {"in_channels", "cfm_params", "n_spks", "spk_emb_dim", "estimator"}, "ConditionalCFM"
    )
    params_spec = _expect(cfm.get("cfm_params"), cy.CFM_PARAMS_TARGET, "cfm_params")
    params = params_spec.kwargs.get("content", params_spec.args[0] if params_spec.args else {})
    if params.get("solver", "euler") != "euler":
        raise ValueError(f"cfm_params solver={params['solver']!r}, expected 'euler'")
    estimator = EstimatorConfig.from_kwargs(
        _expect(cfm.get("estimator"), cy.ESTIMATOR_TARGET, "estimator").kwargs
    )
    mel = {"sampling_rate": 22050, "hop_size": 256, **dict(kw.get("mel_feat_conf") or {})}
    config = FlowConfig(
        vocab_size=int(kw.get("vocab_size", 4096)),
        input_size=int(kw.get("input_size", 512)),
        output_size=output_size,
        spk_embed_dim=int(kw.get("spk_embed_dim", 192)),
        input_frame_rate=float(kw.get("input_frame_rate", 50)),
        sample_rate=int(mel["sampling_rate"]),
        hop_size=int(mel["hop_size"]),
        encoder=encoder,
        regulator_channels=int(regulator["channels"]),
        regulator_out_channels=int(regulator.get("out_channels") or regulator["channels"]),
        regulator_groups=int(regulator.get("groups", 1)),
        regulator_stages=len(regulator.get("sampling_ratios", ())),
        estimator=estimator,
        cfg_rate=float(params.get("inference_cfg_rate", 0.0)),
        cosine_schedule=params.get("t_scheduler") == "cosine",
    )
    checks = {
        "encoder input_size == flow input_size": encoder.input_size == config.input_size,
        "length_regulator channels == output_size": config.regulator_channels == output_size,
        "regulator out_channels == output_size": config.regulator_out_channels == output_size,
        "estimator in_channels == 4 * output_size": estimator.in_channels == 4 * output_size,
        "estimator out_channels == output_size": estimator.out_channels == output_size,
        "n_spks == 1": int(cfm.get("n_spks", 1)) == 1,
    }
    broken = [name for name, ok in checks.items() if not ok]
    if broken:
        raise ValueError("inconsistent flow config: " + ", ".join(broken))
    return config


class InterpolateRegulator(nn.Module):
    """Linear interpolation to the mel frame count, then (Conv(3) GroupNorm Mish) x n, Conv(1)."""

    def __init__(self, config: FlowConfig, **factory: Any) -> None:
        super().__init__()
        channels = config.regulator_channels
        layers: list[nn.Module] = []
        for _ in range(config.regulator_stages):
            layers += [
                nn.Conv1d(channels, channels, 3, 1, 1, **factory),
                nn.GroupNorm(config.regulator_groups, channels, **factory),
                nn.Mish(),
            ]
        layers.append(nn.Conv1d(channels, config.regulator_out_channels, 1, 1, **factory))
        self.model = nn.Sequential(*layers)

    def forward(
        self, prompt: torch.Tensor, new: torch.Tensor, prompt_frames: int, new_frames: int
    ) -> torch.Tensor:
        """prompt: (B, P, C), new: (B, T, C) -> (B, prompt_frames + new_frames, C)."""
        parts = []
        if prompt.shape[1] > 0:
            parts.append(F.interpolate(prompt.transpose(1, 2), size=prompt_frames, mode="linear"))
        parts.append(F.interpolate(new.transpose(1, 2), size=new_frames, mode="linear"))
        return self.model(torch.cat(parts, dim=2)).transpose(1, 2)


def flow_time_grid(
    steps: int, cosine: bool, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """t_0 = 0 ... t_steps = 1, bunched near 0 by ``1 - cos(t * pi / 2)`` when cosine."""
    grid = torch.linspace(0, 1, steps + 1, device=device, dtype=dtype)
    return 1 - torch.cos(grid * 0.5 * torch.pi) if cosine else grid


def solve_euler_cfg(
    estimator: Estimator,
    noise: torch.Tensor,
    mu: torch.Tensor,
    mask: torch.Tensor,
    spks: torch.Tensor,
    cond: torch.Tensor,
    grid: torch.Tensor,
    cfg_rate: float,
) -> torch.Tensor:
    """Euler steps along ``grid``; with guidance each step evaluates the estimator on the batch
    [conditioned; unconditioned (mu, spks, cond zeroed)] and uses (1+r) v_c - r v_u."""
    x = noise
    batch = x.shape[0]
    t = grid[0].expand(batch)
    for step in range(1, len(grid)):
        dt = grid[step] - t
        if cfg_rate > 0:
            both = estimator(
                torch.cat([x, x]),
                torch.cat([mask, mask]),
                torch.cat([mu, torch.zeros_like(mu)]),
                torch.cat([t, t]),
                torch.cat([spks, torch.zeros_like(spks)]),
                torch.cat([cond, torch.zeros_like(cond)]),
            )
            conditioned, unconditioned = both.chunk(2, dim=0)
            velocity = (1.0 + cfg_rate) * conditioned - cfg_rate * unconditioned
        else:
            velocity = estimator(x, mask, mu, t, spks, cond)
        x = x + dt[:, None, None] * velocity
        t = t + dt
    return x


class ConditionalCFM(nn.Module):
    """Holds the estimator under the released name ``decoder.estimator``."""

    def __init__(self, config: FlowConfig, **factory: Any) -> None:
        super().__init__()
        self.estimator = ConditionalDecoder(config.estimator, **factory)


class FlowDecoder(nn.Module):
    """Dual-codebook tokens (0..5119) + a voice prompt -> 80-band log-mel at 22050/256 Hz."""

    def __init__(
        self,
        config: FlowConfig,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        mel_settings: MelSettings | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.config = config
        self.mel_settings = mel_settings or MelSettings()
        self.input_embedding = nn.Embedding(config.vocab_size, config.input_size, **factory)
        self.spk_embed_affine_layer = nn.Linear(config.spk_embed_dim, config.output_size, **factory)
        self.encoder = ConformerEncoder(config.encoder, **factory)
        self.encoder_proj = nn.Linear(config.encoder.output_size, config.output_size, **factory)
        self.decoder = ConditionalCFM(config, **factory)
        self.length_regulator = InterpolateRegulator(config, **factory)
        self.eval()

    @classmethod
    def from_yaml(
        cls,
        path: Path | str,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> FlowDecoder:
        """Builds the (uninitialised) module a cosyvoice.yaml describes."""
        configs = cy.load_cosyvoice_yaml(path)
        try:
            config = flow_config_from_spec(configs.get("flow"))
            mel = MelSettings.from_spec(configs.get("feat_extractor"))
        except (ValueError, TypeError, KeyError) as error:
            raise CheckpointError(path, f"flow section not as released: {error}") from error
        return cls(config, device, dtype, mel)

    @classmethod
    def load(
        cls,
        folder: Path | str,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> FlowDecoder:
        """Reads ``folder/cosyvoice.yaml`` and ``folder/flow.pt``; names and shapes must match."""
        folder = Path(folder)
        model = cls.from_yaml(folder / YAML_NAME, device="meta", dtype=dtype)
        weights = folder / WEIGHTS_NAME
        state = _read_state_dict(weights)
        _check_state(weights, model.state_dict(), state)
        model.load_state_dict(state, assign=True)
        return model.to(device=device, dtype=dtype).eval()

    @property
    def device(self) -> torch.device:
        return self.input_embedding.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.input_embedding.weight.dtype

    def frames_for_tokens(self, n_tokens: int) -> int:
        """Mel frames the flow makes for ``n_tokens`` new tokens (the released rounding)."""
        c = self.config
        return int(n_tokens / c.input_frame_rate * c.sample_rate / c.hop_size)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, T, output_size): embed, Conformer, projection."""
        embedded = self.input_embedding(tokens.clamp(min=0).to(self.device))
        return self.encoder_proj(self.encoder(embedded))

    @torch.inference_mode()
    def mel(
        self,
        tokens: torch.Tensor,
        prompt_tokens: torch.Tensor | None,
        prompt_mel: torch.Tensor | None,
        embedding: torch.Tensor,
        generator: torch.Generator | None = None,
        n_timesteps: int = 10,
        frames: int | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens (B, T), prompt_tokens (B, P), prompt_mel (B, F, 80), embedding (B, 192) ->
        float32 mel (B, 80, frames_for_tokens(T)). An empty prompt is P = F = 0 (or None).
        ``frames`` overrides the count (a streaming window placed in a longer utterance takes
        its share of the whole's frames); ``noise`` (B, 80, F + frames) the starting noise."""
        batch, new_tokens = tokens.shape
        if new_tokens == 0:
            raise ValueError("no tokens to decode")
        if prompt_tokens is None:
            prompt_tokens = tokens.new_zeros((batch, 0))
        if prompt_mel is None:
            prompt_mel = torch.zeros(batch, 0, self.config.output_size)
        prompt_frames = prompt_mel.shape[1]
        new_frames = self.frames_for_tokens(new_tokens) if frames is None else frames
        if (prompt_tokens.shape[1] == 0) != (prompt_frames == 0):
            raise ValueError("prompt tokens and prompt mel must both be given or both be empty")
        if new_frames == 0:
            raise ValueError(f"{new_tokens} tokens make no mel frame")
        for ids in (tokens, prompt_tokens):
            if ids.numel() and int(ids.max()) >= self.config.vocab_size:
                raise ValueError(f"token ids must be below {self.config.vocab_size} (id - 65536)")
        if prompt_mel.shape[2] != self.config.output_size:
            raise ValueError(f"prompt mel must be (B, F, {self.config.output_size})")
        if not prompt_tokens.shape[0] == prompt_mel.shape[0] == embedding.shape[0] == batch:
            raise ValueError("tokens, prompt and embedding must share the batch size")
        device, dtype = self.device, self.dtype
        speaker = F.normalize(embedding.to(device=device, dtype=dtype), dim=1)
        speaker = self.spk_embed_affine_layer(speaker)
        prompt_count = prompt_tokens.shape[1]
        h = self.encode(torch.cat([prompt_tokens.to(device), tokens.to(device)], dim=1))
        h = self.length_regulator(
            h[:, :prompt_count], h[:, prompt_count:], prompt_frames, new_frames
        )
        total = prompt_frames + new_frames
        cond = torch.zeros(batch, total, self.config.output_size, device=device, dtype=dtype)
        cond[:, :prompt_frames] = prompt_mel.to(device=device, dtype=dtype)
        mu = h.transpose(1, 2).contiguous()
        if noise is None:
            noise_device = generator.device if generator is not None else device
            noise = torch.randn(
                mu.shape, generator=generator, device=noise_device, dtype=torch.float32
            )
        elif noise.shape != mu.shape:
            raise ValueError(f"noise must be {tuple(mu.shape)}, not {tuple(noise.shape)}")
        noise = noise.to(device=device, dtype=dtype)
        grid = flow_time_grid(n_timesteps, self.config.cosine_schedule, device, dtype)
        mask = torch.ones(batch, 1, total, device=device, dtype=dtype)
        out = solve_euler_cfg(
            self.decoder.estimator,
            noise,
            mu,
            mask,
            speaker,
            cond.transpose(1, 2),
            grid,
            self.config.cfg_rate,
        )
        return out[:, :, prompt_frames:].float()

    def prompt_mel(self, audio22k: Any) -> torch.Tensor:
        """The prompt's (1, F, 80) mel with the yaml's feat_extractor settings."""
        return self.mel_settings.compute(audio22k)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(path, "missing", "torch.save'd state dict of MaskedDiffWithXvec")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise CheckpointError(
                path, f"unreadable ({type(error).__name__}: {error})", "a torch.save'd state dict"
            ) from error
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(path, "not a state dict", "a mapping of tensor names to tensors")
    return dict(state)


def _check_state(
    path: Path, expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]
) -> None:
    check_tensor_layout(
        path,
        {name: tuple(t.shape) for name, t in expected.items()},
        {name: tuple(t.shape) for name, t in found.items()},
        "the layout cosyvoice.yaml's flow section describes",
    )
