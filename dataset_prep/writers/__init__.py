"""Text writers: turn movie metadata, demographics and training ratings into texts.

:mod:`.base` defines the inputs and the writer interface, :mod:`.offline`
the deterministic rule-based writer used by default (no LLM involved).
"""

from .base import Movie, Rating, TextWriter, Viewer
from .offline import OfflineMovieWriter

__all__ = ["Movie", "OfflineMovieWriter", "Rating", "TextWriter", "Viewer"]
