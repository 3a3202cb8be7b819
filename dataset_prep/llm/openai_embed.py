"""Text embeddings from any OpenAI-compatible ``/embeddings`` endpoint.

Like the chat backend, the ``openai`` client reads ``OPENAI_API_KEY`` (and
``OPENAI_BASE_URL`` unless ``base_url`` is given) from the environment and
retries 429 / 5xx / timeouts with backoff by itself. The key is never passed
around, stored or logged here, and it is not part of :attr:`name` (the
vector cache key).
"""

from __future__ import annotations

import numpy as np

from .backend import FatalBackendError
from .openai_client import openai_client


class EmbeddingResponseError(FatalBackendError):
    """The endpoint answered, but not with one vector of the expected size per input."""


class EmbeddingRequestError(RuntimeError):
    """A batch still failed after the client's retries (server down, timeouts, rate limits)."""


class OpenAIEmbedder:
    """Embeds a batch of texts in one ``embeddings.create`` call; an :class:`~dataset_prep.embed.Embedder`."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        dimensions: int | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
    ) -> None:
        import openai  # lazy: only this embedder needs it

        self._openai = openai
        self.model = model
        self.dimensions = dimensions
        self.max_retries = max_retries
        # The cache key: the same model truncated to other dimensions gives other vectors.
        self.name = f"openai:{model}" + (f":{dimensions}d" if dimensions else "")
        self.dim: int | None = dimensions  # learned from the first answer when not requested
        self._client = openai_client(base_url, max_retries, timeout)

    def __call__(self, texts: list[str]) -> np.ndarray:
        openai = self._openai
        kwargs: dict = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        if self.dimensions:
            kwargs["dimensions"] = self.dimensions
        where = self._client.base_url
        try:
            response = self._client.embeddings.create(**kwargs)
        except (
            openai.AuthenticationError,
            openai.PermissionDeniedError,
            openai.NotFoundError,
            openai.BadRequestError,
            openai.UnprocessableEntityError,
        ) as exc:
            # Every further batch would be refused the same way (bad key, unknown model, bad --dimensions).
            raise FatalBackendError(f"{type(exc).__name__} from {where}: {exc.message}") from exc
        except openai.APIResponseValidationError as exc:
            raise EmbeddingResponseError(f"unreadable embeddings response from {where}: {exc}") from exc
        except openai.APIError as exc:
            raise EmbeddingRequestError(
                f"{type(exc).__name__} from {where} after {self.max_retries} retries: {exc.message}"
            ) from exc
        return self._vectors(response, len(texts))

    def _vectors(self, response: object, count: int) -> np.ndarray:
        data = list(getattr(response, "data", None) or [])
        label = f"embeddings response for {self.model!r}"
        if len(data) != count:
            raise EmbeddingResponseError(f"{label} has {len(data)} vectors for {count} inputs")
        # Servers may answer out of order; ``index`` says which input a vector belongs to.
        indices = sorted(int(item.index) for item in data)
        if indices != list(range(count)):
            raise EmbeddingResponseError(f"{label} has indices {indices[:10]}, expected 0..{count - 1}")
        rows = [item.embedding for item in sorted(data, key=lambda item: int(item.index))]
        if any(not isinstance(row, list) for row in rows):
            raise EmbeddingResponseError(f"{label} holds a vector that is not a list of floats")
        for k, row in enumerate(rows):
            # JSON numbers only: numpy would quietly turn "0.5" into 0.5 and None into nan.
            if not all(type(v) in (float, int) for v in row):
                raise EmbeddingResponseError(f"{label}: vector {k} holds a value that is not a number")
        sizes = {len(row) for row in rows}
        if len(sizes) != 1 or 0 in sizes:
            raise EmbeddingResponseError(f"{label} mixes vector sizes {sorted(sizes)}")
        dim = sizes.pop()
        if self.dim is not None and dim != self.dim:
            raise EmbeddingResponseError(f"{label} has {dim}-d vectors, expected {self.dim}")
        self.dim = dim
        with np.errstate(over="ignore"):
            vectors = np.asarray(rows, dtype=np.float32)
        # Checked after the cast: 1e39 is a fine float64 but inf in the float32 that is stored and trained on.
        bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        if len(bad):
            raise EmbeddingResponseError(f"{label}: vector {bad[0]} is not finite in float32 (NaN or beyond +-3.4e38)")
        return vectors
