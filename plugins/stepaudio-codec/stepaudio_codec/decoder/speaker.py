"""The prompt speaker's embedding for the flow decoder: CAM++ (``campplus.onnx``) run as
released, through onnxruntime on the CPU, exactly as CosyVoice's front end does.

Input features: Kaldi filterbanks (80 bins, 25 ms / 10 ms frames, Povey window, pre-emphasis
0.97, no dither, log power) of the 16 kHz clip, minus their per-utterance mean; the graph maps
``[1, frames, 80]`` to a ``[1, 192]`` embedding. kaldi-native-fbank computes the same Kaldi
filterbank as ``torchaudio.compliance.kaldi.fbank`` (on unscaled float samples), which CosyVoice
uses, so torchaudio is not needed.
"""

from __future__ import annotations

from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import onnxruntime as ort

from stepaudio_codec.errors import CheckpointError

SAMPLE_RATE = 16000
NUM_BINS = 80
EMBEDDING_DIM = 192
EXPECTED = "CosyVoice campplus.onnx: one float input [batch, frames, 80] -> [batch, 192]"


def kaldi_fbank(audio16k: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 Kaldi log filterbank, as ``kaldi.fbank(speech, num_mel_bins=80,
    dither=0, sample_frequency=16000)``; frames = 1 + (samples - 400) // 160."""
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.dither = 0.0
    options.frame_opts.snip_edges = True
    options.mel_opts.num_bins = NUM_BINS
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(SAMPLE_RATE, np.ascontiguousarray(audio16k, dtype=np.float32))
    fbank.input_finished()
    frames = [fbank.get_frame(i) for i in range(fbank.num_frames_ready)]
    if not frames:
        return np.zeros((0, NUM_BINS), dtype=np.float32)
    return np.stack(frames).astype(np.float32)


def _dims_fit(declared: list, wanted: list[int | None]) -> bool:
    """A declared ONNX shape fits when the rank matches and every fixed dim equals ours."""
    if len(declared) != len(wanted):
        return False
    return all(
        w is None or not isinstance(d, int) or d == w for d, w in zip(declared, wanted, strict=True)
    )


class SpeakerEmbedder:
    """16 kHz mono float32 audio -> (192,) float32 CAM++ speaker embedding."""

    def __init__(self, session: ort.InferenceSession, path: Path) -> None:
        self.session = session
        self.path = path
        self.input_name = session.get_inputs()[0].name

    @classmethod
    def load(cls, onnx_path: Path, threads: int = 1) -> SpeakerEmbedder:
        path = Path(onnx_path)
        if not path.is_file():
            raise CheckpointError(path, "file not found", EXPECTED)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise CheckpointError(path, f"onnxruntime cannot load it ({exc})", EXPECTED) from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(float)":
            found = [(i.name, i.type, i.shape) for i in inputs]
            raise CheckpointError(path, f"inputs are {found}", EXPECTED)
        if not _dims_fit(inputs[0].shape, [None, None, NUM_BINS]):
            raise CheckpointError(path, f"input shape is {inputs[0].shape}", EXPECTED)
        if not outputs or not _dims_fit(outputs[0].shape, [None, EMBEDDING_DIM]):
            found = [(o.name, o.type, o.shape) for o in outputs]
            raise CheckpointError(path, f"outputs are {found}", EXPECTED)
        return cls(session, path)

    def features(self, audio16k: np.ndarray) -> np.ndarray:
        """The graph's input for one clip: mean-normalised fbank, (1, frames, 80)."""
        feats = kaldi_fbank(audio16k)
        if len(feats) == 0:
            raise ValueError("the clip is shorter than one 25 ms frame")
        return (feats - feats.mean(axis=0, keepdims=True))[None]

    def embed(self, audio16k: np.ndarray) -> np.ndarray:
        output = self.session.run(None, {self.input_name: self.features(audio16k)})[0]
        embedding = np.asarray(output, dtype=np.float32).reshape(-1)
        if embedding.shape != (EMBEDDING_DIM,):
            raise CheckpointError(
                self.path, f"produced an embedding of shape {output.shape}", EXPECTED
            )
        return embedding
