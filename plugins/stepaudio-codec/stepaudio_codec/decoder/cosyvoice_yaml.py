"""A safe reader and writer of CosyVoice's ``cosyvoice.yaml`` (the hyperpyyaml file StepFun ships
in ``CosyVoice-300M-25Hz/``), so the released folder is read as released without importing
hyperpyyaml or running the file: ``!new:`` / ``!name:`` become inert :class:`Spec` records,
``!ref`` is resolved, ``!apply:`` (the random seeds) is skipped."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stepaudio_codec.errors import CheckpointError

FLOW_TARGET = "cosyvoice.flow.flow.MaskedDiffWithXvec"
ENCODER_TARGET = "cosyvoice.transformer.encoder.ConformerEncoder"
REGULATOR_TARGET = "cosyvoice.flow.length_regulator.InterpolateRegulator"
CFM_TARGET = "cosyvoice.flow.flow_matching.ConditionalCFM"
CFM_PARAMS_TARGET = "omegaconf.DictConfig"
ESTIMATOR_TARGET = "cosyvoice.flow.decoder.ConditionalDecoder"
HIFT_TARGET = "cosyvoice.hifigan.generator.HiFTGenerator"
F0_TARGET = "cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor"
MEL_TARGET = "matcha.utils.audio.mel_spectrogram"


@dataclass(frozen=True)
class Spec:
    """What ``!new:target`` (or, with ``partial``, ``!name:target``) would construct."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    partial: bool = False


@dataclass(frozen=True)
class Ref:
    """An unresolved ``!ref`` expression such as ``<sample_rate>`` or ``<conf[n_fft]>``."""

    expression: str


class _Skipped:
    """Stands for an ``!apply:`` node until references are resolved (then it becomes None)."""


_SKIPPED = _Skipped()


class _CosyVoiceLoader(yaml.SafeLoader):
    """SafeLoader + hyperpyyaml's tags; floats as in YAML 1.2 (``1e-06`` is a float)."""


_CosyVoiceLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _construct_call(loader: yaml.SafeLoader, suffix: str, node: yaml.Node, partial: bool) -> Spec:
    if isinstance(node, yaml.MappingNode):
        return Spec(suffix, dict(loader.construct_mapping(node, deep=True)), partial=partial)
    if isinstance(node, yaml.SequenceNode):
        return Spec(suffix, {}, tuple(loader.construct_sequence(node, deep=True)), partial)
    value = loader.construct_scalar(node)
    return Spec(suffix, {}, (value,) if value not in ("", None) else (), partial)


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> Ref:
    return Ref(str(loader.construct_scalar(node)))


_CosyVoiceLoader.add_multi_constructor(
    "!new:", lambda loader, suffix, node: _construct_call(loader, suffix, node, False)
)
_CosyVoiceLoader.add_multi_constructor(
    "!name:", lambda loader, suffix, node: _construct_call(loader, suffix, node, True)
)
_CosyVoiceLoader.add_multi_constructor("!apply:", lambda loader, suffix, node: _SKIPPED)
_CosyVoiceLoader.add_constructor("!ref", _construct_ref)
_CosyVoiceLoader.add_constructor("!copy", _construct_ref)
_CosyVoiceLoader.add_constructor(
    "!tuple", lambda loader, node: tuple(loader.construct_sequence(node, deep=True))
)

_REF_TOKEN = re.compile(r"<([^<>]+)>")
_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _arithmetic(node: ast.AST) -> Any:
    """Evaluates the numbers-and-operators expressions hyperpyyaml allows after a substitution."""
    if isinstance(node, ast.Expression):
        return _arithmetic(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.operand))
    raise ValueError("not arithmetic")


class _Resolver:
    def __init__(self, root: dict[str, Any], path: Path) -> None:
        self.root = root
        self.path = path
        self.done: dict[str, Any] = {}
        self.active: set[str] = set()

    def lookup(self, key_path: str) -> Any:
        head, *subkeys = re.split(r"\[|\]\[|\]$", key_path.strip())
        subkeys = [s for s in subkeys if s != ""]
        if head not in self.root:
            raise CheckpointError(self.path, f"!ref <{key_path}> names no top-level key")
        if head not in self.done:
            if head in self.active:
                raise CheckpointError(self.path, f"!ref <{key_path}> refers to itself")
            self.active.add(head)
            self.done[head] = self.resolve(self.root[head])
            self.active.discard(head)
        value = self.done[head]
        for sub in subkeys:
            container = value.kwargs if isinstance(value, Spec) else value
            try:
                value = (
                    container[int(sub)] if isinstance(container, list | tuple) else container[sub]
                )
            except (KeyError, IndexError, TypeError, ValueError):
                raise CheckpointError(self.path, f"!ref <{key_path}>: no [{sub}]") from None
        return value

    def expand(self, ref: Ref) -> Any:
        text = ref.expression.strip()
        whole = _REF_TOKEN.fullmatch(text)
        if whole:
            return self.lookup(whole.group(1))
        substituted = _REF_TOKEN.sub(lambda m: str(self.lookup(m.group(1))), text)
        try:
            return _arithmetic(ast.parse(substituted, mode="eval"))
        except (SyntaxError, ValueError, ZeroDivisionError):
            return substituted

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self.expand(value)
        if isinstance(value, _Skipped):
            return None
        if isinstance(value, Spec):
            return Spec(
                value.target,
                {k: self.resolve(v) for k, v in value.kwargs.items()},
                tuple(self.resolve(v) for v in value.args),
                value.partial,
            )
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        return value


def load_cosyvoice_yaml(path: Path | str) -> dict[str, Any]:
    """Reads a cosyvoice.yaml without importing or running anything it names."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "missing", "the released hyperpyyaml cosyvoice.yaml")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CosyVoiceLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CheckpointError(path, f"not readable as YAML ({error})") from error
    if not isinstance(document, dict):
        raise CheckpointError(path, "not a YAML mapping", "top-level keys flow, hift, ...")
    resolver = _Resolver(document, path)
    return {key: resolver.lookup(key) for key in document}


# ---------------------------------------------------------------------------------------------
# Writing, in the released style (comments, tags, !ref to the fixed params).


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
        mantissa, _, exponent = text.partition("e")
        if exponent and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Ref):
        return f"!ref {value.expression}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} inline")


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | Spec)


def _emit(lines: list[str], key: str, value: Any, depth: int) -> None:
    pad = "    " * depth
    if isinstance(value, Spec):
        tag = f"!{'name' if value.partial else 'new'}:{value.target}"
        if value.args:
            lines.append(f"{pad}{key}: {tag} {_scalar(list(value.args))}")
            return
        lines.append(f"{pad}{key}: {tag}")
        for sub_key, sub_value in value.kwargs.items():
            _emit(lines, sub_key, sub_value, depth + 1)
    elif isinstance(value, dict):
        lines.append(f"{pad}{key}:")
        for sub_key, sub_value in value.items():
            _emit(lines, sub_key, sub_value, depth + 1)
    else:
        lines.append(f"{pad}{key}: {_scalar(value)}")


def _tagged(value: Mapping[str, Any] | Spec, target: str, partial: bool = False) -> Spec:
    if isinstance(value, Spec):
        return value
    return Spec(target, dict(value), partial=partial)


def flow_spec(flow: Mapping[str, Any] | Spec, spk_embed_dim: int | None = None) -> Spec:
    """Wraps plain flow kwargs (nested dicts, the released key names) in the released tags."""
    if isinstance(flow, Spec):
        return flow
    kwargs = dict(flow)
    if spk_embed_dim is not None and kwargs.get("spk_embed_dim") == spk_embed_dim:
        kwargs["spk_embed_dim"] = Ref("<spk_embed_dim>")
    kwargs["encoder"] = _tagged(kwargs["encoder"], ENCODER_TARGET)
    kwargs["length_regulator"] = _tagged(kwargs["length_regulator"], REGULATOR_TARGET)
    decoder = kwargs["decoder"]
    if not isinstance(decoder, Spec):
        decoder = dict(decoder)
        params = decoder["cfm_params"]
        if not isinstance(params, Spec):
            decoder["cfm_params"] = Spec(CFM_PARAMS_TARGET, {"content": dict(params)})
        decoder["estimator"] = _tagged(decoder["estimator"], ESTIMATOR_TARGET)
        decoder = Spec(CFM_TARGET, decoder)
    kwargs["decoder"] = decoder
    return Spec(FLOW_TARGET, kwargs)


def hift_spec(hift: Mapping[str, Any] | Spec, sample_rate: int | None = None) -> Spec:
    """Wraps plain HiFT kwargs (with an ``f0_predictor`` dict) in the released tags."""
    if isinstance(hift, Spec):
        return hift
    kwargs = dict(hift)
    if sample_rate is not None and kwargs.get("sampling_rate") == sample_rate:
        kwargs["sampling_rate"] = Ref("<sample_rate>")
    kwargs["f0_predictor"] = _tagged(kwargs["f0_predictor"], F0_TARGET)
    return Spec(HIFT_TARGET, kwargs)


def write_cosyvoice_yaml(
    path: Path | str,
    flow: Mapping[str, Any] | Spec,
    hift: Mapping[str, Any] | Spec,
    *,
    sample_rate: int = 22050,
    spk_embed_dim: int = 192,
    feat_extractor: Mapping[str, Any] | Spec | None = None,
    seed: int = 1986,
) -> Path:
    """Writes a cosyvoice.yaml laid out like the released one, readable by hyperpyyaml (which
    would build the modules) and by :func:`load_cosyvoice_yaml` (which only describes them)."""
    path = Path(path)
    mel = dict(feat_extractor) if isinstance(feat_extractor, Mapping) else None
    if feat_extractor is None:
        mel = released_feat_extractor_kwargs(sample_rate)
    if mel is not None and mel.get("sampling_rate") == sample_rate:
        mel["sampling_rate"] = Ref("<sample_rate>")
    mel_spec = (
        feat_extractor if isinstance(feat_extractor, Spec) else Spec(MEL_TARGET, mel, (), True)
    )
    lines = ["# set random seed, so that you may reproduce your result."]
    for index, function in enumerate(
        ("random.seed", "numpy.random.seed", "torch.manual_seed", "torch.cuda.manual_seed_all"), 1
    ):
        lines.append(f"__set_seed{index}: !apply:{function} [{seed}]")
    lines += [
        "",
        "# fixed params",
        f"sample_rate: {sample_rate}",
        f"spk_embed_dim: {spk_embed_dim}",
    ]
    lines += ["", "# model params"]
    _emit(lines, "flow", flow_spec(flow, spk_embed_dim), 0)
    lines.append("")
    _emit(lines, "hift", hift_spec(hift, sample_rate), 0)
    lines += ["", "# the prompt's mel spectrogram (the flow's conditioning frames)"]
    _emit(lines, "feat_extractor", mel_spec, 0)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The released values (see manifests/flow.json's _source for what is certain and what inferred).


def released_flow_kwargs() -> dict[str, Any]:
    """MaskedDiffWithXvec's kwargs for CosyVoice-300M-25Hz as Step-Audio uses it: CosyVoice-300M's
    flow with the dual-codebook vocabulary (vq02 c -> c, vq06 c -> 1024 + c) at 125/3 tokens/s."""
    return {
        "input_size": 512,
        "output_size": 80,
        "spk_embed_dim": 192,
        "output_type": "mel",
        "vocab_size": 5120,
        "input_frame_rate": 125 / 3,
        "only_mask_loss": True,
        "encoder": {
            "output_size": 512,
            "attention_heads": 8,
            "linear_units": 2048,
            "num_blocks": 6,
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "attention_dropout_rate": 0.1,
            "normalize_before": True,
            "input_layer": "linear",
            "pos_enc_layer_type": "rel_pos_espnet",
            "selfattention_layer_type": "rel_selfattn",
            "input_size": 512,
            "use_cnn_module": False,
            "macaron_style": False,
        },
        "length_regulator": {"channels": 80, "sampling_ratios": [1, 1, 1, 1]},
        "decoder": {
            "in_channels": 240,
            "n_spks": 1,
            "spk_emb_dim": 80,
            "cfm_params": {
                "sigma_min": 1e-06,
                "solver": "euler",
                "t_scheduler": "cosine",
                "training_cfg_rate": 0.2,
                "inference_cfg_rate": 0.7,
                "reg_loss_type": "l1",
            },
            "estimator": {
                "in_channels": 320,
                "out_channels": 80,
                "channels": [256, 256],
                "dropout": 0.0,
                "attention_head_dim": 64,
                "n_blocks": 4,
                "num_mid_blocks": 12,
                "num_heads": 8,
                "act_fn": "gelu",
            },
        },
    }


def released_hift_kwargs(sample_rate: int = 22050) -> dict[str, Any]:
    """CosyVoice-300M's 22.05 kHz HiFTGenerator kwargs (the hift helper owns their meaning)."""
    return {
        "in_channels": 80,
        "base_channels": 512,
        "nb_harmonics": 8,
        "sampling_rate": sample_rate,
        "nsf_alpha": 0.1,
        "nsf_sigma": 0.003,
        "nsf_voiced_threshold": 10,
        "upsample_rates": [8, 8],
        "upsample_kernel_sizes": [16, 16],
        "istft_params": {"n_fft": 16, "hop_len": 4},
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "source_resblock_kernel_sizes": [7, 11],
        "source_resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
        "lrelu_slope": 0.1,
        "audio_limit": 0.99,
        "f0_predictor": {"num_class": 1, "in_channels": 80, "cond_channels": 512},
    }


def released_feat_extractor_kwargs(sample_rate: int = 22050) -> dict[str, Any]:
    """Matcha's mel_spectrogram settings for the prompt mel (fmax 8 kHz, no centering)."""
    return {
        "n_fft": 1024,
        "num_mels": 80,
        "sampling_rate": sample_rate,
        "hop_size": 256,
        "win_size": 1024,
        "fmin": 0,
        "fmax": 8000,
        "center": False,
    }
