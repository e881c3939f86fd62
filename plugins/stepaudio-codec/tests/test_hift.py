"""The HiFT vocoder (mel -> 22.05 kHz) on a tiny random hift.pt in the released layout: output
shape and range, seeded determinism, the stream against offline synthesis, and plain-formula
references for the STFT, the iSTFT, the harmonic source and the whole network."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stepaudio_codec.decoder.cosyvoice_yaml import released_hift_kwargs
from stepaudio_codec.decoder.hift import HiftVocoder
from stepaudio_codec.decoder.hift_config import HiftConfig
from stepaudio_codec.decoder.hift_layout import released_layout, weight_normed_prefixes
from stepaudio_codec.decoder.hift_stream import receptive_field
from stepaudio_codec.decoder.nsf_source import initial_phases, source_noise
from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.tiny.hift_checkpoint import MANIFEST, tiny_hift_kwargs, write_tiny_hift

HOP = 256


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from threads and slow down a lot when cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def hift_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hift(tmp_path_factory.mktemp("hift") / "hift.pt", tiny_hift_kwargs())


@pytest.fixture(scope="module")
def vocoder(hift_path: Path) -> HiftVocoder:
    return HiftVocoder.load(hift_path, tiny_hift_kwargs())


def smooth_mel(frames: int, seed: int = 0) -> torch.Tensor:
    """Random log-mel-like frames, smoothed over time with a Gaussian kernel."""
    noise = torch.randn(80, 1, frames + 20, generator=torch.Generator().manual_seed(seed))
    kernel = torch.exp(-(torch.arange(-10, 11.0) ** 2) / 20)
    return F.conv1d(noise, (kernel / kernel.sum()).view(1, 1, -1)).reshape(1, 80, frames) * 3


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_config_reads_the_released_kwargs() -> None:
    config = HiftConfig.from_kwargs(released_hift_kwargs())
    assert config == HiftConfig()
    assert config.samples_per_frame == HOP
    assert HiftConfig.from_kwargs(config.to_kwargs()) == config
    with pytest.raises(ValueError, match="unknown"):
        HiftConfig.from_kwargs({"bogus": 1})


def test_output_length_range_and_voicing(vocoder: HiftVocoder) -> None:
    for frames in (1, 17, 60):
        wav = vocoder.forward_offline(smooth_mel(frames), gen(0))
        assert wav.shape == (frames * HOP,) and wav.dtype == torch.float32
        assert torch.isfinite(wav).all() and wav.abs().max() <= 0.99
    assert wav.std() > 0.01  # not silent
    f0 = vocoder.predict_f0(smooth_mel(60))
    voiced = (f0 > 10).float().mean()
    assert 0.5 < voiced < 1.0  # the tiny F0 exercises both the sine and the noise branch


def test_audio_limit_clips(hift_path: Path) -> None:
    kwargs = tiny_hift_kwargs() | {"audio_limit": 0.01}
    wav = HiftVocoder.load(hift_path, kwargs).forward_offline(smooth_mel(20), gen(0))
    assert wav.abs().max() == pytest.approx(0.01)


def test_same_seed_same_audio(vocoder: HiftVocoder) -> None:
    mel = smooth_mel(30)
    first = vocoder.forward_offline(mel, gen(5))
    assert torch.equal(first, vocoder.forward_offline(mel, gen(5)))
    assert not torch.equal(first, vocoder.forward_offline(mel, gen(6)))
    torch.manual_seed(9)
    global_rng = vocoder.forward_offline(mel)
    torch.manual_seed(9)
    assert torch.equal(global_rng, vocoder.forward_offline(mel))


def run_stream(
    vocoder: HiftVocoder, mel: torch.Tensor, chunk: int, **options: int | None
) -> tuple[torch.Tensor, list[int]]:
    """The concatenated stream and the sample index where each emission ended."""
    stream = vocoder.stream(gen(1), **options)
    pieces = []
    for start in range(0, mel.shape[2], chunk):
        pieces.append(stream.feed(mel[:, :, start : start + chunk]))
        assert stream.buffered_frames <= 2 * 20 + 8 + 2 * chunk  # old context is dropped
    pieces.append(stream.finish())
    ends = np.cumsum([p.numel() for p in pieces]).tolist()
    return torch.cat(pieces), ends


def boundary_jump(wav: torch.Tensor, offline: torch.Tensor, ends: list[int]) -> float:
    """Largest step at an emission boundary beyond the offline signal's own step there."""
    inner = [b for b in ends if 0 < b < wav.numel()]
    steps = [((wav[b] - wav[b - 1]) - (offline[b] - offline[b - 1])).abs().item() for b in inner]
    return max(steps, default=0.0)


@pytest.mark.parametrize("chunk", [7, 20, 33])
def test_stream_equals_offline(vocoder: HiftVocoder, chunk: int) -> None:
    mel = smooth_mel(130)
    offline = vocoder.forward_offline(mel, gen(1))
    wav, ends = run_stream(vocoder, mel, chunk)
    assert wav.shape == offline.shape
    assert (wav - offline).abs().max() <= 1e-4
    assert len([b for b in ends if 0 < b < wav.numel()]) >= 3  # it really streamed
    assert boundary_jump(wav, offline, ends) <= 1e-4


@pytest.mark.parametrize("chunk", [7, 20, 33])
def test_low_latency_stream_cross_fades(vocoder: HiftVocoder, chunk: int) -> None:
    mel = smooth_mel(130)
    offline = vocoder.forward_offline(mel, gen(1))
    needed = receptive_field(vocoder.config).lookahead
    # lookahead + cross-fade = the receptive field: exact outside the cross-faded stretches
    wav, ends = run_stream(vocoder, mel, chunk, lookahead_frames=needed - 6, crossfade_frames=6)
    outside = torch.ones_like(wav, dtype=torch.bool)
    for end in ends[:-2]:
        outside[end : end + 6 * HOP] = False
    assert outside.float().mean() > 0.1
    assert (wav - offline)[outside].abs().max() <= 1e-4
    # a short lookahead: a hard cut jumps at the seams, the cross-fade smooths them
    cut, cut_ends = run_stream(vocoder, mel, chunk, lookahead_frames=4, crossfade_frames=0)
    faded, fade_ends = run_stream(vocoder, mel, chunk, lookahead_frames=4, crossfade_frames=8)
    assert cut.shape == faded.shape == offline.shape
    hard, soft = boundary_jump(cut, offline, cut_ends), boundary_jump(faded, offline, fade_ends)
    assert hard > 1e-3 and soft < 0.25 * hard


def test_receptive_field_bounds_the_network(vocoder: HiftVocoder) -> None:
    frames, at = 80, 40
    mel = smooth_mel(frames)
    f0 = vocoder.predict_f0(mel)
    source, _ = vocoder.m_source(f0, 0, torch.zeros(9, dtype=torch.float64), 3)
    base = vocoder.synthesize(mel, source)
    field = receptive_field(vocoder.config)

    def reach(changed: torch.Tensor) -> int:
        moved = (changed - base).abs().reshape(frames, HOP).amax(dim=1).nonzero().flatten()
        return int((moved - at).abs().max())

    bumped_mel = mel.clone()
    bumped_mel[:, :, at] += 1.0
    bumped_source = source.clone()
    bumped_source[at * HOP : (at + 1) * HOP] += 0.1
    assert field.network_frames - 3 <= reach(vocoder.synthesize(bumped_mel, source))
    assert reach(vocoder.synthesize(bumped_mel, source)) <= field.network_frames
    assert reach(vocoder.synthesize(mel, bumped_source)) <= field.source_frames
    f0_moved = (vocoder.predict_f0(bumped_mel) - f0).abs().nonzero().flatten()
    assert int((f0_moved - at).abs().max()) == field.f0_frames


def test_stft_and_istft_match_plain_formulas(vocoder: HiftVocoder) -> None:
    rng = np.random.default_rng(0)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(16) / 16)  # periodic Hann
    signal = rng.standard_normal(64)
    padded = np.pad(signal, 8, mode="reflect")
    frames = np.stack([padded[4 * t : 4 * t + 16] * window for t in range(17)])
    expected = np.fft.rfft(frames, axis=1).T  # [9, 17]
    spec = vocoder.stft(torch.tensor(signal, dtype=torch.float32)[None])[0].double().numpy()
    np.testing.assert_allclose(spec[:9] + 1j * spec[9:], expected, atol=1e-5)

    magnitude = rng.uniform(0.1, 2.0, (9, 21))
    phase = rng.uniform(-1, 1, (9, 21))
    wav = vocoder.istft(
        torch.tensor(magnitude, dtype=torch.float32)[None],
        torch.tensor(phase, dtype=torch.float32)[None],
    )[0]
    framed = np.fft.irfft(magnitude * np.exp(1j * phase), n=16, axis=0).T * window  # [21, 16]
    total, envelope = np.zeros(4 * 20 + 16), np.zeros(4 * 20 + 16)
    for t in range(21):
        total[4 * t : 4 * t + 16] += framed[t]
        envelope[4 * t : 4 * t + 16] += window**2
    expected_wav = (total / np.where(envelope > 1e-11, envelope, 1.0))[8 : 8 + 4 * 20]
    np.testing.assert_allclose(wav.double().numpy(), expected_wav, atol=1e-5)


def test_sine_source_matches_plain_formula(vocoder: HiftVocoder) -> None:
    source_module, seed = vocoder.m_source, 4
    f0 = torch.tensor([0.0, 5.0, 120.0, 130.5, 240.0, 3.0, 180.0, 95.0], dtype=torch.float32)
    start = torch.zeros(9, dtype=torch.float64)
    merged, _ = source_module(f0, 0, start, seed)
    f0_up = np.repeat(f0.double().numpy(), HOP)
    cycles = np.cumsum(f0_up[None] * np.arange(1, 10)[:, None] / 22050, axis=1)
    sines = 0.1 * np.sin(2 * np.pi * cycles + initial_phases(seed, 9).double().numpy()[:, None])
    voiced = (f0_up > 10).astype(np.float64)
    noise = source_noise(seed, 0, f0_up.size, 9).double().numpy()
    excitation = sines * voiced + (voiced * 0.003 + (1 - voiced) * 0.1 / 3) * noise
    weight = source_module.l_linear.weight.detach().double().numpy()
    bias = source_module.l_linear.bias.detach().double().numpy()
    expected = np.tanh(weight @ excitation + bias[:, None])[0]
    np.testing.assert_allclose(merged.double().numpy(), expected, atol=1e-5)
    # chunked, carrying the phase: the same samples
    head, phase = source_module(f0[:3], 0, start, seed)
    tail, _ = source_module(f0[3:], 3, phase, seed)
    assert (torch.cat([head, tail]) - merged).abs().max() <= 1e-6


def test_noise_is_keyed_by_sample_position() -> None:
    whole = source_noise(8, 0, 10_000, 9)
    assert torch.equal(whole[:, 3_000:7_500], source_noise(8, 3_000, 4_500, 9))
    assert not torch.equal(whole, source_noise(9, 0, 10_000, 9))
    assert abs(whole.std().item() - 1.0) < 0.02
    phases = initial_phases(8, 9)
    assert phases[0] == 0 and phases.abs().max() <= math.pi


def reference_network(state: dict[str, torch.Tensor], mel: torch.Tensor, source: torch.Tensor):
    """HiFT's network written from the published structure, straight off the released tensors."""

    def weight(prefix: str) -> torch.Tensor:
        if f"{prefix}.weight" in state:
            return state[f"{prefix}.weight"]
        v, g = state[f"{prefix}.weight_v"], state[f"{prefix}.weight_g"]
        return g * v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1)

    def conv(x: torch.Tensor, prefix: str, **kw: int) -> torch.Tensor:
        return F.conv1d(x, weight(prefix), state[f"{prefix}.bias"], **kw)

    def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        a = alpha[None, :, None]
        return x + torch.sin(a * x) ** 2 / (a + 1e-9)

    def resblock(x: torch.Tensor, prefix: str, kernel: int) -> torch.Tensor:
        for j, d in enumerate((1, 3, 5)):
            t = snake(x, state[f"{prefix}.activations1.{j}.alpha"])
            t = conv(t, f"{prefix}.convs1.{j}", dilation=d, padding=d * (kernel - 1) // 2)
            t = snake(t, state[f"{prefix}.activations2.{j}.alpha"])
            x = x + conv(t, f"{prefix}.convs2.{j}", padding=(kernel - 1) // 2)
        return x

    window = torch.hann_window(16)
    spec = torch.stft(source[None], 16, 4, 16, window=window, return_complex=True)
    spec = torch.cat([spec.real, spec.imag], dim=1)
    x = conv(mel, "conv_pre", padding=3)
    for i, (stride, src_kernel) in enumerate([(8, 7), (1, 11)]):
        x = F.leaky_relu(x, 0.1)
        x = F.conv_transpose1d(x, weight(f"ups.{i}"), state[f"ups.{i}.bias"], 8, padding=4)
        if i == 1:
            x = torch.cat([x[:, :, 1:2], x], dim=2)  # reflection pad (1, 0)
        down = {"stride": 8, "padding": 4} if stride == 8 else {}
        x = x + resblock(
            conv(spec, f"source_downs.{i}", **down), f"source_resblocks.{i}", src_kernel
        )
        x = sum(resblock(x, f"resblocks.{3 * i + j}", k) for j, k in enumerate((3, 7, 11))) / 3
    x = conv(F.leaky_relu(x, 0.01), "conv_post", padding=3)
    magnitude, phase = torch.exp(x[:, :9]).clamp(max=100), torch.sin(x[:, 9:])
    spectrum = torch.polar(magnitude, phase)
    return torch.istft(spectrum, 16, 4, 16, window=window).clamp(-0.99, 0.99)[0]


def test_network_matches_reference(vocoder: HiftVocoder, hift_path: Path) -> None:
    state = torch.load(hift_path, weights_only=True)
    mel = smooth_mel(12)
    f0 = vocoder.predict_f0(mel)
    source, _ = vocoder.m_source(f0, 0, torch.zeros(9, dtype=torch.float64), 2)
    expected = reference_network(state, mel, source)
    assert (vocoder.synthesize(mel, source) - expected).abs().max() <= 1e-5
    hidden = mel
    for layer in range(5):
        hidden = F.elu(
            F.conv1d(
                hidden,
                _folded(state, f"f0_predictor.condnet.{2 * layer}"),
                state[f"f0_predictor.condnet.{2 * layer}.bias"],
                padding=1,
            )
        )
    f0_expected = F.linear(
        hidden.transpose(1, 2),
        state["f0_predictor.classifier.weight"],
        state["f0_predictor.classifier.bias"],
    ).abs()[0, :, 0]
    assert (f0 - f0_expected).abs().max() <= 1e-3


def _folded(state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    v, g = state[f"{prefix}.weight_v"], state[f"{prefix}.weight_g"]
    return g * v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1)


def test_bfloat16_runs_close_to_float32(hift_path: Path, vocoder: HiftVocoder) -> None:
    half = HiftVocoder.load(hift_path, tiny_hift_kwargs(), dtype=torch.bfloat16)
    assert half.conv_pre.weight.dtype == torch.bfloat16
    mel = smooth_mel(20)
    wav, reference = half.forward_offline(mel, gen(0)), vocoder.forward_offline(mel, gen(0))
    assert wav.shape == reference.shape and torch.isfinite(wav).all()
    assert torch.corrcoef(torch.stack([wav, reference]))[0, 1] > 0.99


@pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")
def test_layout_is_torch_weight_norm_of_the_marked_convs() -> None:
    model = HiftVocoder(HiftConfig.from_kwargs(tiny_hift_kwargs()))
    normed = weight_normed_prefixes(model)
    assert len(normed) == 1 + 2 + 2 * 3 * 2 + 2 * 3 * 3 * 2 + 1 + 5
    for name in normed:
        torch.nn.utils.weight_norm(model.get_submodule(name))
    torch_names = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert torch_names == released_layout(HiftVocoder(model.config, device="meta"))


def test_real_size_layout_matches_manifest() -> None:
    model = HiftVocoder(HiftConfig.from_kwargs(tiny_hift_kwargs(real=True)), device="meta")
    layout = {name: list(shape) for name, shape in released_layout(model).items()}
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["_source"] and layout == manifest["tensors"]
    count = sum(math.prod(shape) for shape in layout.values())
    print(f"HiFT hift.pt: {len(layout)} tensors, {count:,} values")
    assert 20_000_000 < count < 21_000_000
    assert layout["ups.0.weight_g"] == [512, 1, 1] and layout["source_downs.0.weight"] == [
        256,
        18,
        16,
    ]
    assert receptive_field(model.config).lookahead == 20


def test_loader_accepts_parametrization_names(hift_path: Path, tmp_path: Path) -> None:
    state = torch.load(hift_path, weights_only=True)
    renamed = {
        k.replace(".weight_g", ".parametrizations.weight.original0").replace(
            ".weight_v", ".parametrizations.weight.original1"
        ): v
        for k, v in state.items()
    }
    torch.save(renamed, tmp_path / "hift.pt")
    mel = smooth_mel(10)
    a = HiftVocoder.load(tmp_path / "hift.pt", tiny_hift_kwargs()).forward_offline(mel, gen(0))
    b = HiftVocoder.load(hift_path, tiny_hift_kwargs()).forward_offline(mel, gen(0))
    assert torch.equal(a, b)


def test_error_paths(hift_path: Path, tmp_path: Path) -> None:
    kwargs = tiny_hift_kwargs()
    with pytest.raises(CheckpointError, match=r"missing.pt.*not found"):
        HiftVocoder.load(tmp_path / "missing.pt", kwargs)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02 definitely not a torch archive")
    with pytest.raises(CheckpointError, match=r"corrupt.pt.*unreadable"):
        HiftVocoder.load(corrupt, kwargs)
    state = torch.load(hift_path, weights_only=True)
    wrong = tmp_path / "wrong.pt"
    torch.save(state | {"conv_pre.weight_v": torch.zeros(32, 80, 5)}, wrong)
    with pytest.raises(CheckpointError, match=r"wrong.pt.*conv_pre.weight_v.*\[32, 80, 5\]"):
        HiftVocoder.load(wrong, kwargs)
    with pytest.raises(CheckpointError, match=r"\[32, 80, 7\]"):
        HiftVocoder.load(wrong, kwargs)
    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in state.items() if not k.startswith("f0_predictor.")}, partial)
    with pytest.raises(CheckpointError, match=r"partial.pt.*missing.*f0_predictor"):
        HiftVocoder.load(partial, kwargs)
    torch.save(state | {"extra.weight": torch.zeros(1)}, tmp_path / "hift.pt")
    with pytest.raises(CheckpointError, match=r"hift.pt.*unexpected.*extra"):
        HiftVocoder.load(tmp_path / "hift.pt", kwargs)
    with pytest.raises(CheckpointError, match="shape"):  # the real-size kwargs on the tiny file
        HiftVocoder.load(hift_path, tiny_hift_kwargs(real=True))
