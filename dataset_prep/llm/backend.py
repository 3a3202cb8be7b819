"""The one small interface every chat backend implements.

A backend turns a :class:`ChatRequest` (chat messages plus the structured
input they were rendered from) into a :class:`ChatAnswer` (raw text plus
token counts). It does not parse the answer: checking the JSON and
re-asking is the pipeline's job, identical for every backend.

Errors:
- :class:`FatalBackendError` stops the whole run (bad key, unknown model):
  every other request would fail the same way.
- :class:`InvalidResponseError` (a reply that is not a chat completion at
  all) is treated like a malformed answer: the request is asked again.
- Any other exception fails this one request only; the pipeline records it
  and goes on. Transport retries (429, 5xx, timeouts) happen inside the
  backend, e.g. in the openai client, before such an exception is raised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatRequest:
    """One prompt: ``task`` (e.g. ``item_intent``), the entity it is about, messages and input.

    ``prefill`` is text the answer should start with; backends that control
    generation (hf) start the answer with it and return it as part of the
    answer, chat APIs ignore it.
    """

    task: str
    entity_id: str
    messages: tuple[dict[str, str], ...]
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
    output_keys: tuple[str, ...] = ()
    prefill: str = ""
    list_keys: tuple[str, ...] = ()  # output keys whose value is a list (for the JSON schema)

    def prompt_sha(self) -> str:
        """Hash of exactly what a model sees (the messages and any prefill); the payload is derived data."""
        seen: list[Any] = list(self.messages)
        if self.prefill:
            seen.append({"prefill": self.prefill})
        text = json.dumps(seen, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChatAnswer:
    """Raw answer text and token usage (0 where a backend cannot count).

    ``response_format`` says how the answer was constrained (``json_schema``,
    ``json_object``, ...; empty where the backend has no such choice) and
    ``model`` which model the server says answered; both are recorded in the
    cache for the audit trail.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    response_format: str = ""
    model: str = ""


class FatalBackendError(RuntimeError):
    """An error that every further request would repeat; the run stops."""


class InvalidResponseError(RuntimeError):
    """The backend replied, but not with a readable completion (e.g. a broken body)."""


@runtime_checkable
class ChatBackend(Protocol):
    """``name`` and ``model`` key the answer cache; ``max_concurrency`` bounds parallel calls."""

    name: str
    model: str
    max_concurrency: int

    def complete(self, request: ChatRequest) -> ChatAnswer:
        """Answer one request (may be called from several threads, up to ``max_concurrency``)."""
        ...

    def settings(self) -> dict[str, Any]:
        """Generation settings that change answers (temperature, max tokens, ...); part of the cache key."""
        ...
