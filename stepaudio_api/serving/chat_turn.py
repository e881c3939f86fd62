"""One chat turn against the upstream: stream its answer, run the server-side tools it calls
(concurrently, each within a timeout), feed their results back, until it answers or calls a
tool the client declared."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.engines.chat import ChatModel, merge_tool_call_delta
from stepaudio_api.extensions.tools import Tool, ToolError, ToolRegistry

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ToolsRunning:
    """Server tools are still running after the acknowledgement delay."""

    tools: list[Tool]


@dataclass(slots=True)
class ToolsFinished:
    results: list[dict[str, Any]]
    """The tool messages fed back to the model."""


@dataclass(slots=True)
class ClientToolCalls:
    calls: list[dict[str, Any]]
    """OpenAI ``tool_calls`` entries for the client to run."""


@dataclass(slots=True)
class TurnUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    rounds: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        if not usage:
            return
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        self.cached_tokens += int(details.get("cached_tokens") or 0)


@dataclass(slots=True)
class Finished:
    reason: str
    usage: TurnUsage
    system_fingerprint: str | None = None


TurnEvent = TextDelta | ToolsRunning | ToolsFinished | ClientToolCalls | Finished


@dataclass(slots=True)
class ToolPolicy:
    server_tools: dict[str, Tool] = field(default_factory=dict)
    """Offered to the model and run here."""
    timeout_seconds: float = 10.0
    max_rounds: int = 4
    acknowledge_after: float | None = None
    """Yield ToolsRunning when tools run longer than this; None: never."""


def _result_content(outcome: Any) -> str:
    if isinstance(outcome, BaseException):
        return json.dumps({"error": str(outcome) or type(outcome).__name__})
    return outcome if isinstance(outcome, str) else json.dumps(outcome, ensure_ascii=False)


class ChatTurn:
    def __init__(self, model: ChatModel, tools: ToolRegistry, policy: ToolPolicy) -> None:
        self.model = model
        self.tools = tools
        self.policy = policy

    async def run(self, body: dict[str, Any]) -> AsyncIterator[TurnEvent]:
        """``body`` is the upstream request (its messages and tools already prepared)."""
        usage = TurnUsage()
        messages = list(body["messages"])
        fingerprint = None
        while True:
            usage.rounds += 1
            if self.policy.server_tools and usage.rounds > self.policy.max_rounds:
                body = {**body, "tool_choice": "none"}  # answer with what you have
            text: list[str] = []
            calls: list[dict[str, Any]] = []
            reason = "stop"
            async with aclosing(self.model.stream({**body, "messages": messages})) as chunks:
                async for chunk in chunks:  # type: ignore[attr-defined]
                    fingerprint = chunk.get("system_fingerprint") or fingerprint
                    usage.add(chunk.get("usage"))
                    for choice in chunk.get("choices") or []:
                        if choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            text.append(delta["content"])
                            yield TextDelta(delta["content"])
                        for call in delta.get("tool_calls") or []:
                            merge_tool_call_delta(calls, call)
                        if choice.get("finish_reason"):
                            reason = choice["finish_reason"]
            if not calls:
                yield Finished(reason, usage, fingerprint)
                return
            mine = [c for c in calls if c["function"]["name"] in self.policy.server_tools]
            theirs = [c for c in calls if c not in mine]
            if theirs:
                # the client runs its own and comes back with their results; server tools the
                # model called beside them are not run, since their results could not reach
                # that next request: the model calls them again there if it still needs them
                yield ClientToolCalls(theirs)
                yield Finished("tool_calls", usage, fingerprint)
                return
            tasks = [asyncio.ensure_future(self._call(c)) for c in mine]
            try:
                if self.policy.acknowledge_after is not None:
                    _, pending = await asyncio.wait(tasks, timeout=self.policy.acknowledge_after)
                    if pending:  # the consumer may speak while they go on
                        names = [c["function"]["name"] for c in mine]
                        yield ToolsRunning([self.policy.server_tools[n] for n in names])
                outcomes = await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
            results = [
                {"role": "tool", "tool_call_id": c["id"], "content": outcome}
                for c, outcome in zip(mine, outcomes, strict=True)
            ]
            assistant = {"role": "assistant", "content": "".join(text) or None}
            messages += [{**assistant, "tool_calls": mine}, *results]
            yield ToolsFinished(results)

    async def _call(self, call: dict[str, Any]) -> str:
        name = call["function"]["name"]
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                return _result_content(await self.tools.call(name, call["function"]["arguments"]))
        except TimeoutError:
            message = f"the tool '{name}' did not answer within {self.policy.timeout_seconds:g} s"
            return _result_content(ToolError(message))
        except ToolError as exc:
            return _result_content(exc)
        except Exception as exc:  # a plugin's bug must not end the conversation
            logger.exception("tool %s failed", name)
            return _result_content(ToolError(f"the tool '{name}' failed: {exc}"))
