"""The plugin hooks stepaudio-api calls; plugins implement them with ``@hookimpl``.

Registration hooks take a ``register`` callback (the llm pattern), so that keywords can be added
later without breaking plugins. A hook implementation may accept any subset of the arguments.
"""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("stepaudio_api")


@hookspec
def register_engines(register: Any, settings: Any) -> None:
    """Register engine types: call ``register(EngineClass)`` for each."""


@hookspec
def register_voices(register: Any, settings: Any) -> None:
    """Register voice packs: call ``register(PackVoice(...))`` for each voice."""


@hookspec
def register_tools(register: Any, settings: Any) -> None:
    """Register server-side tools models may call: ``register(Tool(...))`` for each."""


@hookspec
def register_dialects(register: Any, settings: Any) -> None:
    """Register dialect packs: ``register(Dialect(...))`` for each language or dialect."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add command-line commands: ``cli`` is the ``stepaudio-api`` click group."""


@hookspec
def startup(services: Any) -> Any:
    """Run once the engines are loaded, before the first request; may return an awaitable."""


@hookspec
def shutdown(services: Any) -> Any:
    """Run as the server stops, before the engines are unloaded; may return an awaitable."""


@hookspec(firstresult=True)
def authenticate(token: str, services: Any) -> Any:
    """Return a Caller for an API key the store does not know (a JWT, ...), or None."""


@hookspec
def usage_recorded(record: Any) -> None:
    """Observe each finished usage record (a dict), e.g. to export it to billing."""
