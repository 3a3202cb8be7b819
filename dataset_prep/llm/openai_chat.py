"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

The ``openai`` client reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from
the environment and retries 429 / 5xx / timeouts with backoff by itself;
this module only maps its outcomes onto the backend contract. The key is
never passed around, stored or logged here.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from .backend import ChatAnswer, ChatRequest, FatalBackendError, InvalidResponseError
from .openai_client import openai_client

logger = logging.getLogger(__name__)


class OpenAIChatBackend:
    """Chat completions through the ``openai`` package, JSON mode where the server supports it."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        json_mode: bool = True,
        temperature: float = 0.0,
        max_tokens: int = 512,
        max_retries: int = 5,
        timeout: float = 120.0,
        max_concurrency: int = 8,
    ) -> None:
        import openai  # lazy: only this backend needs it

        self._openai = openai
        self.model = model
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._json_mode = json_mode
        self._lock = threading.Lock()
        self._client = openai_client(base_url, max_retries, timeout)

    def settings(self) -> dict[str, Any]:
        # JSON mode is left out: falling back from it must not invalidate the cache.
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def complete(self, request: ChatRequest) -> ChatAnswer:
        openai = self._openai
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self._json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            response = self._client.chat.completions.create(**kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise FatalBackendError(f"{type(exc).__name__} from {self._client.base_url}: {exc.message}") from exc
        except openai.BadRequestError as exc:
            if self._json_mode and "response_format" in str(exc):
                self._disable_json_mode(exc)
                return self.complete(request)
            raise
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise InvalidResponseError(f"unreadable response body: {exc}") from exc
        if not getattr(response, "choices", None):
            raise InvalidResponseError("response has no choices")
        text = response.choices[0].message.content or ""
        usage = response.usage
        return ChatAnswer(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )

    def _disable_json_mode(self, exc: Exception) -> None:
        with self._lock:
            if self._json_mode:
                logger.warning("The server rejects JSON mode (%s); asking without it from now on.", exc)
                self._json_mode = False
