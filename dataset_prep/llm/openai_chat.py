"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

The ``openai`` client reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from
the environment and retries 429 / 5xx / timeouts with backoff by itself;
this module only maps its outcomes onto the backend contract. The key is
never passed around, stored or logged here.

Structured outputs: each request carries the JSON schema of its answer
(:func:`~dataset_prep.llm.prompts.answer_schema`), sent the strongest way the
server accepts, stepping down once, for the whole run, when the server
rejects a form:

1. ``json_schema``: OpenAI's structured outputs (OpenAI, vLLM, llama.cpp's
   ``llama-server``, Ollama);
2. ``json_object`` carrying a ``schema``: llama-cpp-python's server, which
   turns the schema into a grammar;
3. ``json_object``: JSON mode, any JSON object;
4. ``text``: no ``response_format``; the pipeline's re-ask loop is all that is left.

The cache key holds what the server reports for the model at ``/v1/models``
(:meth:`OpenAIChatBackend.served_model`), so a different model served under
the same name does not get the old answers.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from .backend import ChatAnswer, ChatRequest, FatalBackendError, InvalidResponseError
from .openai_client import openai_client
from .prompts import answer_schema, one_line

logger = logging.getLogger(__name__)

RESPONSE_FORMATS = ("json_schema", "json_object", "text")  # what --response-format offers
_LADDER = ("json_schema", "json_object+schema", "json_object", "text")  # what is tried, strongest first
# words a server's 400/422/500 uses when it cannot honour response_format (OpenAI, vLLM, llama.cpp, Ollama)
_FORMAT_WORDS = ("response_format", "json_schema", "schema", "grammar", "guided")
# /v1/models fields that name the weights; 'created' (vLLM: the time of the call) and 'permission' change per call
_IDENTITY_FIELDS = ("id", "root", "parent", "owned_by", "meta")


class OpenAIChatBackend:
    """Chat completions through the ``openai`` package, with the strongest structured output the server takes."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        response_format: str = "json_schema",
        temperature: float = 0.0,
        max_tokens: int = 512,
        max_retries: int = 5,
        timeout: float = 120.0,
        max_concurrency: int = 8,
    ) -> None:
        import openai  # lazy: only this backend needs it

        if response_format not in RESPONSE_FORMATS:
            raise FatalBackendError(
                f"unknown response format {response_format!r}; choose from {', '.join(RESPONSE_FORMATS)}"
            )
        self._openai = openai
        self.model = model
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._level = _LADDER.index(response_format)
        self._lock = threading.Lock()
        self._served: dict[str, Any] | None = None
        self._works: set[int] = set()  # ladder levels the server has answered
        self._client = openai_client(base_url, max_retries, timeout)

    @property
    def response_format(self) -> str:
        """The form requests are sent with now (after any step down)."""
        return _LADDER[self._level]

    def settings(self) -> dict[str, Any]:
        # The response format is left out: stepping down must not invalidate the cache.
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "served_model": self.served_model()}

    def served_model(self) -> dict[str, Any]:
        """What ``/v1/models`` says about the model (asked once); just ``{"id": model}`` if it cannot say."""
        with self._lock:
            if self._served is None:
                self._served = self._ask_served_model()
            return self._served

    def _ask_served_model(self) -> dict[str, Any]:
        openai = self._openai
        where = self._client.base_url
        try:
            listed = [m.model_dump() for m in self._client.models.list().data]
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise FatalBackendError(f"{type(exc).__name__} from {where}: {exc.message}") from exc
        except openai.APIConnectionError as exc:  # the client already retried
            raise FatalBackendError(f"cannot reach the server at {where}: {exc}") from exc
        except openai.APIError as exc:
            logger.warning("%s does not list its models (%s); answers are cached under the name %r only, so "
                           "a different model behind that name would be served old answers.", where, exc, self.model)
            return {"id": self.model}
        entry = next((m for m in listed if m.get("id") == self.model), None)
        if entry is None and len(listed) == 1:
            entry = listed[0]  # one-model servers (llama.cpp) answer every name with that model
        if entry is None:
            logger.warning("%s does not list %r (it lists %s); answers are cached under the name only.",
                           where, self.model, ", ".join(str(m.get("id")) for m in listed[:10]) or "nothing")
            return {"id": self.model}
        return {k: entry[k] for k in _IDENTITY_FIELDS if entry.get(k) is not None}

    def complete(self, request: ChatRequest) -> ChatAnswer:
        openai = self._openai
        level = self._level if request.output_keys else max(self._level, _LADDER.index("json_object"))
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        response_format = self._response_format(_LADDER[level], request)
        if response_format is not None:
            kwargs["response_format"] = response_format
        try:
            response = self._send(kwargs, level)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise FatalBackendError(f"{type(exc).__name__} from {self._client.base_url}: {exc.message}") from exc
        except openai.APIStatusError as exc:
            if response_format is not None and _rejects_format(exc):
                self._step_down(level, exc)
                return self.complete(request)
            raise
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise InvalidResponseError(f"unreadable response body: {exc}") from exc
        self._works.add(level)
        if not getattr(response, "choices", None):
            raise InvalidResponseError("response has no choices")
        text = response.choices[0].message.content or ""
        usage = response.usage
        return ChatAnswer(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            response_format=_LADDER[level],
            model=str(getattr(response, "model", "") or ""),
        )

    def _send(self, kwargs: dict[str, Any], level: int) -> Any:
        """One completion. A form not yet seen to work goes out first without the client's retries:
        llama-cpp-python rejects ``json_schema`` with a 500, which the client would retry for seconds."""
        if level not in self._works:
            try:
                return self._client.with_options(max_retries=0).chat.completions.create(**kwargs)
            except self._openai.APIStatusError as exc:
                if _rejects_format(exc) or exc.status_code < 500 and exc.status_code != 429:
                    raise
            except self._openai.APIConnectionError:
                pass  # transient: the retrying client below takes over
        return self._client.chat.completions.create(**kwargs)

    @staticmethod
    def _response_format(form: str, request: ChatRequest) -> dict[str, Any] | None:
        if form == "text":
            return None
        if form == "json_object":
            return {"type": "json_object"}
        if form == "json_object+schema":  # llama.cpp's grammar: bounds keep a small model from rambling
            return {"type": "json_object", "schema": answer_schema(request.output_keys, request.list_keys, True)}
        schema = answer_schema(request.output_keys, request.list_keys)
        return {"type": "json_schema", "json_schema": {"name": f"{request.task}_answer", "schema": schema,
                                                       "strict": True}}

    def _step_down(self, failed: int, exc: Exception) -> None:
        """Use the next weaker form from now on (once per form, whichever thread saw the rejection first)."""
        with self._lock:
            if self._level <= failed:
                self._level = failed + 1
                logger.warning("The server rejects response_format %s (%s); sending %s from now on.",
                               _LADDER[failed], one_line(str(exc), 300), _LADDER[self._level])


def _rejects_format(exc: Any) -> bool:
    """Whether a server error is about response_format (400/422, or llama-cpp-python's 500)."""
    return exc.status_code in (400, 422, 500) and any(word in str(exc) for word in _FORMAT_WORDS)

