"""vq02: the tiny Paraformer folder in the released layout, Step-Audio's whole-clip codes, the
stream's equality with them, the front end and SAN-M attention against plain references, the
real-size manifest and the loader's errors."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from stepaudio_api.audio.decode import decode_audio
from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.folders import PARAFORMER_DIR
from stepaudio_codec.tiny.tokenizer_paraformer import (
    MANIFEST,
    REAL_SIZES,
    TINY_SIZES,
    build_manifest,
    non_encoder_shapes,
    paraformer_config,
    write_tiny_paraformer,
)
from stepaudio_codec.tokenizer.linguistic import CODEBOOK_FILE, LinguisticTokenizer
from stepaudio_codec.tokenizer.paraformer_frontend import read_am_mvn
from stepaudio_codec.tokenizer.sanm_encoder import (
    LayerKV,
    SanmAttention,
    SanmChunkEncoder,
    SanmEncoderConfig,
    sinusoidal_encoding,
)

JFK = Path(__file__).resolve().parents[3] / "tests" / "data" / "en_jfk.flac"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: thread hand-offs would cost more than the arithmetic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("Step-Audio-Tokenizer")
    write_tiny_paraformer(root, seed=0)
    return root


@pytest.fixture(scope="module")
def tokenizer(folder: Path) -> LinguisticTokenizer:
    return LinguisticTokenizer.load(folder)


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return decode_audio(JFK.read_bytes(), 16000).samples


def expected_code_count(samples: int) -> int:
    """Step-Audio's whole-clip call, counted from FunASR's loop: 3840-sample calls give 4 stacked
    frames each (a 1-frame splice cache and 320 samples left over after the first); the final,
    shorter call flushes only when its fbank frames and the cache make a 7-frame window."""
    full, tail = divmod(samples, 3840)
    if tail == 0:
        return 4 * full
    carried, cached = (320, 1) if full else (0, 3)
    frames = (carried + tail - 400) // 160 + 1 if carried + tail >= 400 else 0
    if frames == 0 or cached + frames < 7:
        return 4 * full
    return 4 * full + math.ceil((cached + frames - 3) / 6)


def test_tiny_folder_has_the_released_files(folder: Path) -> None:
    model_dir = folder / PARAFORMER_DIR
    for name in ("config.yaml", "model.pt", "am.mvn", "tokens.json", "configuration.json"):
        assert (model_dir / name).is_file(), name
    assert np.load(folder / CODEBOOK_FILE).shape == (1024, TINY_SIZES["d"])
    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    assert config["encoder"] == "SANMEncoderChunkOpt"
    assert config["frontend_conf"]["lfr_m"] == 7
    state = torch.load(model_dir / "model.pt", weights_only=True)
    prefixes = {name.split(".")[0] for name in state}
    assert prefixes == {"encoder", "decoder", "predictor"}
    others = {k: list(v.shape) for k, v in state.items() if not k.startswith("encoder.")}
    assert others == non_encoder_shapes(config, TINY_SIZES["vocab"])
    assert len(json.loads((model_dir / "tokens.json").read_text())) == TINY_SIZES["vocab"]
    shift, scale = read_am_mvn(model_dir / "am.mvn")
    assert shift.shape == scale.shape == (560,) and (scale > 0).all()
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 5_000_000


def test_jfk_codes_rate_and_range(tokenizer: LinguisticTokenizer, jfk: np.ndarray) -> None:
    codes = tokenizer.tokenize(jfk)
    assert codes.dtype == np.int64
    assert len(codes) == expected_code_count(len(jfk)) == 183  # 11 s at 16.7 Hz
    assert codes.min() >= 0 and codes.max() < 1024
    assert len(np.unique(codes)) > 5


def test_any_split_gives_the_whole_clip_codes(
    tokenizer: LinguisticTokenizer, jfk: np.ndarray
) -> None:
    whole = tokenizer.tokenize(jfk)
    rng = np.random.default_rng(7)
    for _ in range(3):
        stream, pieces, at = tokenizer.stream(), [], 0
        while at < len(jfk):
            size = int(rng.integers(640, 3201))  # 40 .. 200 ms
            got = stream.feed(jfk[at : at + size])
            at += size
            # codes become final 4 at a time, one 240 ms piece after another
            assert sum(map(len, pieces)) + len(got) == 4 * (min(at, len(jfk)) // 3840)
            pieces.append(got)
        pieces.append(stream.finish())
        np.testing.assert_array_equal(np.concatenate(pieces), whole)


@pytest.mark.parametrize("samples", [0, 300, 800, 1000, 3840, 7680, 7780, 8680, 11519, 11000])
def test_clip_end_follows_funasr(tokenizer: LinguisticTokenizer, samples: int) -> None:
    audio = (np.random.default_rng(samples).standard_normal(samples) * 0.1).astype(np.float32)
    assert len(tokenizer.tokenize(audio)) == expected_code_count(samples)


def kaldi_fbank(samples: np.ndarray) -> np.ndarray:
    """Kaldi's fbank written out: 25/10 ms frames (snip_edges), DC removal, 0.97 pre-emphasis,
    Hamming, |FFT_512|^2, 80 triangular mel bins (1127 ln(1 + f/700)) over 20..8000 Hz, log."""
    x = samples.astype(np.float64) * 32768
    count = 1 + (len(x) - 400) // 160
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399)
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    low, high = mel(20.0), mel(8000.0)
    step = (high - low) / 81
    bins = mel(np.arange(256) * 16000 / 512)
    weights = np.zeros((80, 256))
    for b in range(80):
        left, centre, right = low + b * step, low + (b + 1) * step, low + (b + 2) * step
        rising, falling = (bins - left) / (centre - left), (right - bins) / (right - centre)
        weights[b] = np.clip(np.minimum(rising, falling), 0, None) * (bins > left) * (bins < right)
    rows = []
    for i in range(count):
        frame = x[i * 160 : i * 160 + 400]
        frame = frame - frame.mean()
        frame = np.concatenate([[frame[0] * 0.03], frame[1:] - 0.97 * frame[:-1]]) * window
        power = np.abs(np.fft.rfft(frame, 512)) ** 2
        rows.append(np.log(np.maximum(weights @ power[:256], np.finfo(np.float32).eps)))
    return np.array(rows)


def test_front_end_matches_kaldi_lfr_cmvn(tokenizer: LinguisticTokenizer, folder: Path) -> None:
    """Whole-clip FunASR features: fbank, 3 copies of frame 0 in front, 7 frames every 6 (the
    last stacks padded with the last frame), then (x + shift) * scale."""
    audio = (np.random.default_rng(1).standard_normal(12800) * 0.1).astype(np.float32)
    fbank = kaldi_fbank(audio)
    padded = np.concatenate([np.repeat(fbank[:1], 3, axis=0), fbank])
    stacks = []
    for i in range(math.ceil(len(fbank) / 6)):
        rows = list(padded[i * 6 : i * 6 + 7])
        rows += [padded[-1]] * (7 - len(rows))
        stacks.append(np.concatenate(rows))
    shift, scale = read_am_mvn(folder / PARAFORMER_DIR / "am.mvn")
    expected = (np.array(stacks) + shift) * scale
    stream, got = tokenizer.frontend.stream(), []
    for start in range(0, 11520, 3840):
        got.append(stream.accept(audio[start : start + 3840]))
    got.append(stream.accept(audio[11520:], is_final=True))
    features = np.concatenate(got)
    assert features.shape == expected.shape == (math.ceil(len(fbank) / 6), 560) == (13, 560)
    np.testing.assert_allclose(features, expected, atol=2e-3)


def reference_sanm(
    x: torch.Tensor, attn: SanmAttention, past_k: torch.Tensor, past_v: torch.Tensor
) -> torch.Tensor:
    """SAN-M (Gao et al. 2020): y = MHA(q, [past; k], [past; v]) W_o + b_o + v + FSMN(v), with
    FSMN(v)_t = sum_j w_j * v_{t+j-(K-1)/2}, per channel, zero outside the window."""
    size, heads = attn.size, attn.heads
    dk = size // heads
    qkv = x @ attn.linear_q_k_v.weight.T + attn.linear_q_k_v.bias
    q, k, v = qkv[:, :size], qkv[:, size : 2 * size], qkv[:, 2 * size :]
    per_head = []
    for h in range(heads):
        cols = slice(h * dk, (h + 1) * dk)
        keys = torch.cat([past_k[h], k[:, cols]])
        values = torch.cat([past_v[h], v[:, cols]])
        weights = torch.softmax(q[:, cols] @ keys.T / math.sqrt(dk), dim=-1)
        per_head.append(weights @ values)
    out = torch.cat(per_head, dim=1) @ attn.linear_out.weight.T + attn.linear_out.bias
    kernel = attn.fsmn_block.weight[:, 0, :]
    width = kernel.shape[1]
    memory = v.clone()
    for t in range(x.shape[0]):
        for j in range(width):
            s = t + j - (width - 1) // 2
            if 0 <= s < x.shape[0]:
                memory[t] += kernel[:, j] * v[s]
    return out + memory


@pytest.mark.parametrize("cached", [0, 6])
def test_sanm_attention_matches_the_formula(cached: int) -> None:
    torch.manual_seed(cached)
    attn = SanmAttention(heads=2, in_size=6, size=8, kernel_size=5, shift=0).eval()
    with torch.no_grad():
        attn.fsmn_block.weight.normal_()
    x = torch.randn(1, 9, 6)
    past = LayerKV(torch.randn(1, 2, cached, 4), torch.randn(1, 2, cached, 4)) if cached else None
    with torch.inference_mode():
        got, nxt = attn(x, past, (0, 4, 5), 1)
        expected = reference_sanm(
            x[0],
            attn,
            past.k[0] if past else torch.zeros(2, 0, 4),
            past.v[0] if past else torch.zeros(2, 0, 4),
        )
        np.testing.assert_allclose(got[0].numpy(), expected.numpy(), atol=1e-5)
        # the cache keeps the rows before the 5 right-context ones, the newest 1 x 4 of them
        new_keys = (x[0] @ attn.linear_q_k_v.weight.T + attn.linear_q_k_v.bias)[:4, 8:16]
        want = new_keys.view(4, 2, 4).transpose(0, 1)
        np.testing.assert_allclose(nxt.k[0].numpy(), want.numpy(), atol=1e-6)


def test_encoder_window_and_look_back(tokenizer: LinguisticTokenizer) -> None:
    """First chunk: 5 zero rows, then the chunk scaled by sqrt(width) plus its position code; the
    output is the window's last rows. Caches then hold at most look-back x 4 = 16 rows."""
    encoder = tokenizer.encoder
    cache = encoder.new_cache((0, 4, 5), 4)
    feats = torch.randn(1, 4, 560)
    with torch.inference_mode():
        first = encoder.forward_chunk(feats, cache)
        coded = feats * math.sqrt(TINY_SIZES["d"]) + sinusoidal_encoding(0, 4, 560, feats.device)
        window = torch.cat([torch.zeros(1, 5, 560), coded], dim=1)
        for layer in encoder.layers():
            window, _ = layer(window, None, (0, 4, 5), 0)
        np.testing.assert_allclose(first, encoder.after_norm(window)[:, 5:], atol=1e-5)
        for _ in range(5):
            encoder.forward_chunk(torch.randn(1, 4, 560), cache)
    assert cache.position == 24
    assert all(kv is not None and kv.k.shape[2] == 16 for kv in cache.layers)


def test_position_code_formula() -> None:
    code = sinusoidal_encoding(10, 3, 560, torch.device("cpu")).double().numpy()
    for row, pos in enumerate((11, 12, 13)):
        for i in (0, 1, 100, 279):
            angle = pos * 10000 ** (-i / 279)
            assert code[row, i] == pytest.approx(math.sin(angle), abs=1e-5)
            assert code[row, 280 + i] == pytest.approx(math.cos(angle), abs=1e-5)


def test_bfloat16_runs(folder: Path, jfk: np.ndarray) -> None:
    tok = LinguisticTokenizer.load(folder, dtype=torch.bfloat16)
    assert tok.encoder.after_norm.weight.dtype == torch.bfloat16
    codes = tok.tokenize(jfk[:32000])
    assert len(codes) == expected_code_count(32000) and codes.max() < 1024


def test_real_size_encoder_equals_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert manifest == build_manifest()
    config = paraformer_config(REAL_SIZES)
    encoder = SanmChunkEncoder(SanmEncoderConfig.from_yaml(config["encoder_conf"], 560), "meta")
    shapes = {f"encoder.{k}": list(v.shape) for k, v in encoder.state_dict().items()}
    assert shapes == manifest["tensors"]
    assert manifest["tensors"]["encoder.encoders0.0.self_attn.linear_q_k_v.weight"] == [1536, 560]
    assert manifest["tensors"]["encoder.encoders.48.self_attn.fsmn_block.weight"] == [512, 1, 11]
    assert "decoder.decoders.15.src_attn.linear_k_v.weight" in manifest["non_encoder_tensors"]
    count = sum(p.numel() for p in encoder.parameters())
    print(f"real vq02 encoder: {count / 1e6:.1f} M parameters")
    assert 150e6 < count < 170e6


def copy_folder(src: Path, dst: Path) -> Path:
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return dst


def test_non_encoder_tensors_are_ignored(folder: Path, tmp_path: Path) -> None:
    root = copy_folder(folder, tmp_path)
    model_pt = root / PARAFORMER_DIR / "model.pt"
    state = torch.load(model_pt, weights_only=True)
    torch.save(
        {"state_dict": {k: v for k, v in state.items() if k.startswith("encoder.")}}, model_pt
    )
    assert LinguisticTokenizer.load(root).encoder.config.num_blocks == TINY_SIZES["blocks"]


def test_errors_name_the_file(folder: Path, tmp_path: Path) -> None:
    root = copy_folder(folder, tmp_path)
    model_dir = root / PARAFORMER_DIR
    model_pt = model_dir / "model.pt"
    state = torch.load(model_pt, weights_only=True)

    state["encoder.after_norm.weight"] = torch.ones(7)
    torch.save(state, model_pt)
    with pytest.raises(CheckpointError, match=r"model\.pt.*after_norm\.weight has shape \[7\]"):
        LinguisticTokenizer.load(root)

    del state["encoder.after_norm.weight"]
    state["encoder.extra.weight"] = torch.ones(1)
    torch.save(state, model_pt)
    with pytest.raises(CheckpointError, match=r"1 missing.*after_norm.*1 unexpected.*extra"):
        LinguisticTokenizer.load(root)

    model_pt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"model\.pt: unreadable"):
        LinguisticTokenizer.load(root)
    model_pt.unlink()
    with pytest.raises(CheckpointError, match=r"model\.pt: missing"):
        LinguisticTokenizer.load(root)


def test_other_files_errors(folder: Path, tmp_path: Path) -> None:
    root = copy_folder(folder, tmp_path)
    model_dir = root / PARAFORMER_DIR
    np.save(root / CODEBOOK_FILE, np.zeros((1024, 3), dtype=np.float32))
    with pytest.raises(CheckpointError, match=r"linguistic_tokenizer\.npy.*\(1024, 3\)"):
        LinguisticTokenizer.load(root)
    (model_dir / "am.mvn").write_text("<Nnet>\n</Nnet>\n")
    with pytest.raises(CheckpointError, match=r"am\.mvn: no <AddShift>"):
        LinguisticTokenizer.load(root)
    (model_dir / "config.yaml").write_text("encoder_conf: [unclosed")
    with pytest.raises(CheckpointError, match=r"config\.yaml: unreadable"):
        LinguisticTokenizer.load(root)
