"""Inputs of a movie text writer and the interface every writer implements.

Writers receive training interactions only; the caller is responsible for
never passing validation or test data (see ``dataset_prep.movielens``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..text_records import TextRecord


@dataclass(frozen=True)
class Movie:
    """Metadata of one item; ``year`` is None when unknown."""

    item_id: str
    title: str
    year: int | None
    genres: tuple[str, ...]


@dataclass(frozen=True)
class Viewer:
    """Demographics of one user; fields are None when unknown."""

    user_id: str
    age: int | None
    gender: str | None
    occupation: str | None


@dataclass(frozen=True)
class Rating:
    """One training interaction of a user (or of an item)."""

    user_id: str
    item_id: str
    rating: float
    timestamp: float


class TextWriter(Protocol):
    """Writes profile/intent texts; ``name`` and ``version`` go into the manifest."""

    name: str
    version: str

    def write_items(self, movies: Sequence[Movie], train_ratings: Mapping[str, Sequence[Rating]]) -> list[TextRecord]:
        """One record per movie, in input order; ``train_ratings`` maps item id -> its training ratings."""
        ...

    def write_users(
        self,
        viewers: Sequence[Viewer],
        train_ratings: Mapping[str, Sequence[Rating]],
        movies: Mapping[str, Movie],
    ) -> list[TextRecord]:
        """One record per viewer, in input order; ``train_ratings`` maps user id -> its training ratings."""
        ...
