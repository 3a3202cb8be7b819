"""Cold-start split: hold a seeded share of items and users out of training.

Applied to a train/valid/test assignment *before* any text or vector is
written: every training interaction of a cold item (user) moves to
validation or test, so the train file, the only file text writers and LLM
prompts read, holds none of them. A cold node's text can then only come from
its attributes (a title, genres, demographics), as a new node's would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write_json

TRAIN, VALID, TEST = 0, 1, 2


@dataclass(frozen=True)
class ColdSplit:
    """The new assignment and the raw ids held out."""

    assignment: np.ndarray
    items: tuple[str, ...]
    users: tuple[str, ...]


def _draw(ids: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    if not 0 <= ratio < 1:
        raise ValueError(f"a cold ratio must be in [0, 1), got {ratio}")
    n = int(round(ratio * len(ids)))
    return np.sort(rng.choice(ids, size=n, replace=False)) if n else ids[:0]


def cold_split(
    users: Sequence[str],
    items: Sequence[str],
    assignment: np.ndarray,
    *,
    item_ratio: float,
    user_ratio: float,
    seed: int,
    valid_share: float = 0.5,
) -> ColdSplit:
    """Draw ``round(ratio x count)`` cold items and users (sorted distinct raw ids,
    ``default_rng(seed)``: items first, then users) and move their training rows
    to validation with probability ``valid_share``, else to test. Rows already in
    validation or test stay where they are."""
    if not 0 <= valid_share <= 1:
        raise ValueError(f"valid_share must be in [0, 1], got {valid_share}")
    users = np.asarray(users, dtype=str)
    items = np.asarray(items, dtype=str)
    rng = np.random.default_rng(seed)
    cold_items = _draw(np.unique(items), item_ratio, rng)
    cold_users = _draw(np.unique(users), user_ratio, rng)
    moved = (assignment == TRAIN) & (np.isin(items, cold_items) | np.isin(users, cold_users))
    result = assignment.copy()
    result[moved] = np.where(rng.random(int(moved.sum())) < valid_share, VALID, TEST)
    return ColdSplit(result, tuple(cold_items.tolist()), tuple(cold_users.tolist()))


def write_cold_ids(path: Path, split: ColdSplit, item_ratio: float, user_ratio: float, seed: int) -> None:
    """``<name>.cold.json``: the settings and the held-out raw ids (for people and tests;
    the plugin finds cold nodes from the train file itself)."""
    atomic_write_json(path, {
        "cold_item_ratio": item_ratio, "cold_user_ratio": user_ratio, "cold_seed": seed,
        "items": list(split.items), "users": list(split.users),
    })


def read_cold_ids(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
