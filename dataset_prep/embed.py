"""Sentence embedders: a minimal interface and the default MiniLM model.

An embedder is any callable mapping ``list[str]`` to a float32 array of
shape ``[n, d]`` with a ``name`` attribute; the name goes into the manifest
so that switching models triggers a rebuild.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

# moved to recbole_irllrec (the recommend command embeds new texts too, and may not import this package)
from recbole_irllrec.text_embedder import (
    DEFAULT_EMBEDDER_NAME,
    DEFAULT_MODEL_ALIASES,
    SentenceTransformerEmbedder,
)

__all__ = ["DEFAULT_EMBEDDER_NAME", "DEFAULT_MODEL_ALIASES", "Embedder", "SentenceTransformerEmbedder", "embed_texts"]


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to one float32 vector each."""

    name: str

    def __call__(self, texts: list[str]) -> np.ndarray: ...


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
