"""One place that builds the ``openai`` client for chat and embeddings.

The client itself does the retries with backoff (429, 5xx, timeouts) and reads
OPENAI_API_KEY / OPENAI_BASE_URL from the environment, so no key ever passes
through our options, logs or caches.
"""

from __future__ import annotations

from typing import Any

from .backend import FatalBackendError


def openai_client(base_url: str | None, max_retries: int, timeout: float) -> Any:
    """An ``openai.OpenAI`` client; FatalBackendError (with the fix) when it cannot be made."""
    import openai  # lazy: only the openai backends need it

    try:
        return openai.OpenAI(base_url=base_url, max_retries=max_retries, timeout=timeout)
    except openai.OpenAIError as exc:
        # The usual cause is a missing key; local servers accept any value.
        raise FatalBackendError(
            f"cannot create the OpenAI client: {exc} "
            "(set OPENAI_API_KEY in the environment; for a local server any value such as EMPTY works)"
        ) from exc
