"""The flow-matching decoder (tokens -> mel) and cosyvoice.yaml, on tiny random checkpoints in
the released layout, with plain-formula references for its key computations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from stepaudio_codec.decoder import cosyvoice_yaml as cy
from stepaudio_codec.decoder.conformer import (
    ConformerConfig,
    ConformerEncoder,
    RelPositionSelfAttention,
    relative_position_table,
    shift_relative,
)
from stepaudio_codec.decoder.flow import (
    FlowDecoder,
    flow_config_from_spec,
    flow_time_grid,
    solve_euler_cfg,
)
from stepaudio_codec.decoder.prompt_mel import MelSettings, prompt_mel
from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.mel_filters import mel_filterbank
from stepaudio_codec.tiny.flow_checkpoint import MANIFEST_PATH, write_tiny_flow

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_flow(tmp_path_factory.mktemp("CosyVoice-300M-25Hz"), seed=0)


@pytest.fixture(scope="module")
def flow(tiny_folder: Path) -> FlowDecoder:
    return FlowDecoder.load(tiny_folder)


def _inputs(n_tokens: int = 30, n_prompt: int = 12, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 5120, (1, n_tokens), generator=g)
    prompt = torch.randint(0, 5120, (1, n_prompt), generator=g)
    prompt_frames = int(n_prompt * 3 / 125 * 22050 / 256)
    prompt_feat = torch.randn(1, prompt_frames, 80, generator=g) - 5.0
    embedding = torch.randn(1, 192, generator=g)
    return tokens, prompt, prompt_feat, embedding


# ----------------------------------------------------------------------------- cosyvoice.yaml

RELEASED_STYLE = """\
__set_seed1: !apply:random.seed [1986]
sample_rate: 22050
spk_embed_dim: 192
conf:
    n_fft: 1024
    sizes: [4, 8]
flow: !new:cosyvoice.flow.flow.MaskedDiffWithXvec
    spk_embed_dim: !ref <spk_embed_dim>
    twice: !ref <spk_embed_dim> * 2
    fft: !ref <conf[n_fft]>
    second: !ref <conf[sizes][1]>
    decoder: !new:cosyvoice.flow.flow_matching.ConditionalCFM
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
mel: !name:matcha.utils.audio.mel_spectrogram
    sampling_rate: !ref <sample_rate>
bare: !new:matcha.hifigan.models.MultiPeriodDiscriminator
positional: !new:torch.nn.Identity [3, 4]
pipeline: [!ref <mel>, !ref <bare>]
"""


def test_yaml_loader_reads_the_released_tags_without_running_them(tmp_path: Path) -> None:
    path = tmp_path / "cosyvoice.yaml"
    path.write_text(RELEASED_STYLE)
    configs = cy.load_cosyvoice_yaml(path)
    assert configs["__set_seed1"] is None
    flow = configs["flow"]
    assert isinstance(flow, cy.Spec) and flow.target == cy.FLOW_TARGET and not flow.partial
    assert flow.kwargs["spk_embed_dim"] == 192
    assert flow.kwargs["twice"] == 384
    assert flow.kwargs["fft"] == 1024
    assert flow.kwargs["second"] == 8
    params = flow.kwargs["decoder"].kwargs["cfm_params"]
    assert params.target == "omegaconf.DictConfig"
    assert params.kwargs["content"]["sigma_min"] == pytest.approx(1e-6)
    assert configs["mel"].partial and configs["mel"].kwargs == {"sampling_rate": 22050}
    assert configs["bare"] == cy.Spec("matcha.hifigan.models.MultiPeriodDiscriminator")
    assert configs["positional"].args == (3, 4)
    assert configs["pipeline"] == [configs["mel"], configs["bare"]]


def test_yaml_writer_round_trips_in_the_released_style(tmp_path: Path) -> None:
    path = cy.write_cosyvoice_yaml(
        tmp_path / "cosyvoice.yaml", cy.released_flow_kwargs(), cy.released_hift_kwargs()
    )
    text = path.read_text()
    for expected in (
        "flow: !new:cosyvoice.flow.flow.MaskedDiffWithXvec",
        "spk_embed_dim: !ref <spk_embed_dim>",
        "cfm_params: !new:omegaconf.DictConfig",
        "estimator: !new:cosyvoice.flow.decoder.ConditionalDecoder",
        "hift: !new:cosyvoice.hifigan.generator.HiFTGenerator",
        "f0_predictor: !new:cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor",
        "feat_extractor: !name:matcha.utils.audio.mel_spectrogram",
        "sampling_rate: !ref <sample_rate>",
        "__set_seed1: !apply:random.seed [1986]",
    ):
        assert expected in text
    configs = cy.load_cosyvoice_yaml(path)
    flow = configs["flow"]
    released = cy.released_flow_kwargs()
    assert flow.kwargs["vocab_size"] == released["vocab_size"] == 5120
    assert flow.kwargs["input_frame_rate"] == released["input_frame_rate"]
    assert flow.kwargs["encoder"].kwargs == released["encoder"]
    decoder = flow.kwargs["decoder"]
    assert decoder.kwargs["cfm_params"].kwargs["content"] == released["decoder"]["cfm_params"]
    assert decoder.kwargs["estimator"].kwargs == released["decoder"]["estimator"]
    assert configs["hift"].kwargs["f0_predictor"].kwargs == {
        "num_class": 1,
        "in_channels": 80,
        "cond_channels": 512,
    }
    assert configs["hift"].kwargs["sampling_rate"] == 22050
    assert MelSettings.from_spec(configs["feat_extractor"]) == MelSettings()
    # the writer's output parses to the same config as the plain kwargs it was given
    assert flow_config_from_spec(flow) == flow_config_from_spec(cy.flow_spec(released))


# ----------------------------------------------------------------------------- the flow


def test_tiny_checkpoint_loads_and_makes_the_released_frame_count(flow: FlowDecoder) -> None:
    assert flow.frames_for_tokens(5) == 10  # 120 ms of tokens -> int(0.12 * 22050 / 256)
    assert flow.frames_for_tokens(125) == 258  # 3 s
    tokens, prompt, prompt_feat, embedding = _inputs(n_tokens=31)
    for n_tokens in (1, 7, 24, 31):
        mel = flow.mel(tokens[:, :n_tokens], prompt, prompt_feat, embedding)
        assert mel.shape == (1, 80, flow.frames_for_tokens(n_tokens))
        assert mel.dtype == torch.float32 and torch.isfinite(mel).all()


def test_same_seed_same_mel_and_other_seed_other_mel(flow: FlowDecoder) -> None:
    tokens, prompt, prompt_feat, embedding = _inputs()

    def run(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return flow.mel(tokens, prompt, prompt_feat, embedding, generator=generator)

    first, again, other = run(7), run(7), run(8)
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-3


def test_prompt_conditions_the_mel_and_may_be_empty(flow: FlowDecoder) -> None:
    tokens, prompt, prompt_feat, embedding = _inputs()
    frames = flow.frames_for_tokens(tokens.shape[1])

    def run(*prompt_parts: torch.Tensor | None) -> torch.Tensor:
        return flow.mel(
            tokens, *prompt_parts, embedding, generator=torch.Generator().manual_seed(1)
        )

    with_prompt = run(prompt, prompt_feat)
    other_prompt = run(prompt, prompt_feat + 2.0)
    without = run(None, None)
    empty = run(prompt[:, :0], prompt_feat[:, :0])
    assert with_prompt.shape == without.shape == (1, 80, frames)
    assert (with_prompt - other_prompt).abs().max() > 1e-3
    assert torch.equal(without, empty)
    with pytest.raises(ValueError, match="both"):
        run(prompt, None)
    with pytest.raises(ValueError, match="below 5120"):
        flow.mel(tokens + 65536, prompt, prompt_feat, embedding)


def test_batch_of_two_equals_two_single_runs(flow: FlowDecoder) -> None:
    tokens, prompt, prompt_feat, embedding = _inputs()
    single = flow.mel(tokens, prompt, prompt_feat, embedding, torch.Generator().manual_seed(3))
    pair = flow.mel(
        tokens.repeat(2, 1),
        prompt.repeat(2, 1),
        prompt_feat.repeat(2, 1, 1),
        embedding.repeat(2, 1),
        torch.Generator().manual_seed(3),
    )
    assert pair.shape == (2, *single.shape[1:])
    torch.testing.assert_close(pair[0], single[0], atol=1e-4, rtol=1e-4)


def test_bfloat16_runs(tiny_folder: Path, flow: FlowDecoder) -> None:
    half = FlowDecoder.load(tiny_folder, dtype=torch.bfloat16)
    assert half.input_embedding.weight.dtype == torch.bfloat16
    tokens, prompt, prompt_feat, embedding = _inputs(n_tokens=10)
    mel = half.mel(tokens, prompt, prompt_feat, embedding, torch.Generator().manual_seed(0), 2)
    reference = flow.mel(
        tokens, prompt, prompt_feat, embedding, torch.Generator().manual_seed(0), 2
    )
    assert mel.dtype == torch.float32 and torch.isfinite(mel).all()
    assert torch.corrcoef(torch.stack([mel.flatten(), reference.flatten()]))[0, 1] > 0.95


def test_euler_steps_with_guidance_match_the_formula(flow: FlowDecoder) -> None:
    """Two Euler steps on the cosine grid, each v = (1 + r) v(x | mu, spk, cond) - r v(x | 0)."""
    grid = flow_time_grid(2, True, torch.device("cpu"), torch.float32)
    torch.testing.assert_close(grid, torch.tensor([0.0, 1 - math.cos(math.pi / 4), 1.0]))
    g = torch.Generator().manual_seed(5)
    frames = 9
    x0, mu, cond = (torch.randn(1, 80, frames, generator=g) for _ in range(3))
    spks = torch.randn(1, 80, generator=g)
    mask = torch.ones(1, 1, frames)
    rate = flow.config.cfg_rate
    assert rate == pytest.approx(0.7)
    estimator = flow.decoder.estimator
    with torch.inference_mode():
        solved = solve_euler_cfg(estimator, x0, mu, mask, spks, cond, grid, rate)
        x, zeros = x0, torch.zeros_like
        for t0, t1 in ((grid[0], grid[1]), (grid[1], grid[2])):
            t = t0.reshape(1)
            guided = estimator(x, mask, mu, t, spks, cond)
            free = estimator(x, mask, zeros(mu), t, zeros(spks), zeros(cond))
            x = x + (t1 - t0) * ((1 + rate) * guided - rate * free)
    torch.testing.assert_close(solved, x, atol=1e-5, rtol=1e-5)


def test_relative_position_attention_matches_the_plain_formula() -> None:
    torch.manual_seed(0)
    heads, size, length = 2, 8, 5
    attention = RelPositionSelfAttention(heads, size, key_bias=True)
    with torch.no_grad():
        attention.pos_bias_u.normal_()
        attention.pos_bias_v.normal_()
    x = torch.randn(1, length, size)
    table = relative_position_table(length, size)
    # ESPnet's construction: positive offsets flipped, then the negative ones (zero excluded)
    position = np.arange(length, dtype=np.float64)[:, None]
    inverse = np.exp(np.arange(0, size, 2) * -(math.log(10000.0) / size))
    positive, negative = np.zeros((length, size)), np.zeros((length, size))
    positive[:, 0::2], positive[:, 1::2] = np.sin(position * inverse), np.cos(position * inverse)
    negative[:, 0::2], negative[:, 1::2] = np.sin(-position * inverse), np.cos(-position * inverse)
    espnet = np.concatenate([positive[::-1], negative[1:]])
    np.testing.assert_allclose(table[0].numpy(), espnet, atol=1e-5)
    with torch.no_grad():
        out = attention(x, table)
        d = size // heads
        q = attention.linear_q(x)[0].view(length, heads, d)
        k = attention.linear_k(x)[0].view(length, heads, d)
        v = attention.linear_v(x)[0].view(length, heads, d)
        p = attention.linear_pos(table)[0].view(2 * length - 1, heads, d)
        context = torch.zeros(length, heads, d)
        for h in range(heads):
            scores = torch.zeros(length, length)
            for i in range(length):
                for j in range(length):
                    offset_row = (length - 1) - (i - j)  # the table row of offset i - j
                    content = (q[i, h] + attention.pos_bias_u[h]) @ k[j, h]
                    positional = (q[i, h] + attention.pos_bias_v[h]) @ p[offset_row, h]
                    scores[i, j] = (content + positional) / math.sqrt(d)
            context[:, h] = torch.softmax(scores, dim=-1) @ v[:, h]
        expected = attention.linear_out(context.reshape(length, size))
    torch.testing.assert_close(out[0], expected, atol=1e-5, rtol=1e-5)
    scores = torch.arange(2 * 3 * 5, dtype=torch.float32).view(1, 2, 3, 5)
    shifted = shift_relative(scores)
    for i in range(3):
        for j in range(3):
            assert shifted[0, 1, i, j] == scores[0, 1, i, 3 - 1 - i + j]


def test_encoder_variants_macaron_convolution_and_static_chunks() -> None:
    config = ConformerConfig.from_kwargs(
        {
            "input_size": 16,
            "output_size": 16,
            "attention_heads": 2,
            "linear_units": 32,
            "num_blocks": 1,
            "input_layer": "linear",
            "pos_enc_layer_type": "rel_pos_espnet",
            "static_chunk_size": 4,
            "cnn_module_kernel": 3,
        }
    )
    encoder = ConformerEncoder(config).eval()
    names = set(encoder.state_dict())
    for expected in (
        "encoders.0.feed_forward_macaron.w_1.weight",
        "encoders.0.conv_module.depthwise_conv.weight",
        "encoders.0.conv_module.norm.running_var",
        "encoders.0.norm_final.weight",
    ):
        assert expected in names
    x = torch.randn(1, 8, 16)
    changed = x.clone()
    changed[:, 6:] += 1.0
    with torch.inference_mode():
        a, b = encoder(x), encoder(changed)
    # Attention sees only its chunk and the past; the conv module (kernel 3) reaches 1 frame on.
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="input_layer"):
        ConformerConfig.from_kwargs({"input_size": 16, "input_layer": "conv2d"})


# ----------------------------------------------------------------------------- prompt mel


def test_prompt_mel_matches_a_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    n = 22050 // 2 + 77
    t = np.arange(n) / 22050
    audio = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    mel = prompt_mel(audio)
    frames = (n + 768 - 1024) // 256 + 1
    assert mel.shape == (1, frames, 80)
    padded = np.pad(audio.astype(np.float64), 384, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)  # periodic Hann
    starts = np.arange(frames) * 256
    spectrum = np.fft.rfft(np.stack([padded[s : s + 1024] for s in starts]) * window, axis=1)
    magnitude = np.sqrt(np.abs(spectrum) ** 2 + 1e-9)
    expected = np.log(np.maximum(magnitude @ mel_filterbank(22050, 1024, 80, 0, 8000).T, 1e-5))
    np.testing.assert_allclose(mel[0].numpy(), expected, atol=2e-4)
    with pytest.raises(ValueError, match="too short"):
        prompt_mel(np.zeros(100, dtype=np.float32))


# ----------------------------------------------------------------------------- real sizes


def test_real_size_module_matches_the_manifest() -> None:
    manifest = json.loads(MANIFEST_PATH.read_text())
    assert "INFERRED" in manifest["_source"] and "CERTAIN" in manifest["_source"]
    config = flow_config_from_spec(cy.flow_spec(cy.released_flow_kwargs()))
    model = FlowDecoder(config, device="meta")
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert shapes == manifest["tensors"]
    count = sum(p.numel() for p in model.parameters())
    print(f"flow (MaskedDiffWithXvec) at released sizes: {count:,} parameters")
    assert count == 105_399_040
    assert shapes["input_embedding.weight"] == [5120, 512]
    assert shapes["decoder.estimator.down_blocks.0.0.block1.block.0.weight"] == [256, 320, 3]
    assert shapes["decoder.estimator.up_blocks.0.2.conv.weight"] == [256, 256, 4]
    assert shapes["length_regulator.model.12.weight"] == [80, 80, 1]
    assert len([n for n in shapes if n.endswith("attn1.to_q.weight")]) == 64


# ----------------------------------------------------------------------------- error paths


def _copy(tiny_folder: Path, target: Path) -> Path:
    target.mkdir()
    for name in ("cosyvoice.yaml", "flow.pt"):
        (target / name).write_bytes((tiny_folder / name).read_bytes())
    return target


def test_missing_files_raise_checkpoint_error(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path / "a")
    (folder / "flow.pt").unlink()
    with pytest.raises(CheckpointError, match=r"flow\.pt: missing"):
        FlowDecoder.load(folder)
    (folder / "cosyvoice.yaml").unlink()
    with pytest.raises(CheckpointError, match=r"cosyvoice\.yaml: missing"):
        FlowDecoder.load(folder)


def test_corrupt_files_raise_checkpoint_error(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path / "b")
    (folder / "flow.pt").write_bytes(b"\x80\x02 not a checkpoint")
    with pytest.raises(CheckpointError, match=r"flow\.pt: unreadable"):
        FlowDecoder.load(folder)
    (folder / "cosyvoice.yaml").write_text("flow: !new:x [unclosed\n")
    with pytest.raises(CheckpointError, match=r"cosyvoice\.yaml: not readable"):
        FlowDecoder.load(folder)


def test_wrong_shapes_and_names_raise_checkpoint_error(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path / "c")
    state = torch.load(folder / "flow.pt", weights_only=True)
    state["encoder_proj.weight"] = torch.zeros(80, 31)
    torch.save(state, folder / "flow.pt")
    with pytest.raises(
        CheckpointError, match=r"flow\.pt.*encoder_proj\.weight.*\[80, 31\].*\[80, 32\]"
    ):
        FlowDecoder.load(folder)
    del state["encoder_proj.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, folder / "flow.pt")
    with pytest.raises(
        CheckpointError, match=r"1 missing tensors.*encoder_proj.*1 unexpected.*extra"
    ):
        FlowDecoder.load(folder)


def test_unsupported_yaml_raises_checkpoint_error(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path / "d")
    yaml_path = folder / "cosyvoice.yaml"
    yaml_path.write_text(
        yaml_path.read_text().replace("input_layer: 'linear'", "input_layer: 'conv2d'")
    )
    with pytest.raises(CheckpointError, match=r"cosyvoice\.yaml: flow section.*input_layer"):
        FlowDecoder.load(folder)
    yaml_path.write_text("hift: 1\n")
    with pytest.raises(CheckpointError, match=r"cosyvoice\.yaml: flow section.*expected !new"):
        FlowDecoder.load(folder)
