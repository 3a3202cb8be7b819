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


SPLITS = ("train", "valid", "test")


def cold_split_folder(
    src: str | Path, out: str | Path, *, item_ratio: float, user_ratio: float, seed: int,
    name: str | None = None, user_field: str = "user_id", item_field: str = "item_id",
) -> Path:
    """Write a cold split of the fixed split in ``src`` (``<name>.{train,valid,test}.inter``)
    to the new folder ``out``, with the same file names, the ``.user`` / ``.item``
    attribute files copied and ``<name>.cold.json``; run ``intents`` and ``embed`` on
    ``out`` afterwards, so that texts are written from its train file. Moved rows go
    to validation or test in the source's valid:test proportion."""
    from .recbole_io import read_atomic, write_atomic

    src, out = Path(src), Path(out)
    name = name or src.resolve().name
    tables = {split: read_atomic(src / f"{name}.{split}.inter") for split in SPLITS}
    header = tables["train"].header
    for split, table in tables.items():
        if table.header != header:
            raise ValueError(f"{src / f'{name}.{split}.inter'}: header {list(table.header)} differs from the train file's")
        for column in (user_field, item_field):
            if column not in table.frame.columns:
                raise ValueError(f"{src / f'{name}.{split}.inter'}: no column {column!r}")
    if out.exists():
        raise ValueError(f"{out} exists: the cold split goes to a new folder")
    rows = np.concatenate([tables[s].frame.to_numpy() for s in SPLITS])
    assignment = np.concatenate([np.full(len(tables[s].frame), code, dtype=np.int8) for code, s in enumerate(SPLITS)])
    held = len(tables["valid"].frame) + len(tables["test"].frame)
    users, items = (np.concatenate([tables[s].frame[c].to_numpy() for s in SPLITS]) for c in (user_field, item_field))
    split = cold_split(users, items, assignment, item_ratio=item_ratio, user_ratio=user_ratio, seed=seed,
                       valid_share=len(tables["valid"].frame) / held if held else 0.5)
    out.mkdir(parents=True)
    for code, part in enumerate(SPLITS):
        write_atomic(out / f"{name}.{part}.inter", header, rows[split.assignment == code].tolist())
    for ext in ("user", "item"):
        if (src / f"{name}.{ext}").is_file():
            side = read_atomic(src / f"{name}.{ext}")
            write_atomic(out / f"{name}.{ext}", side.header, side.frame.to_numpy().tolist())
    write_cold_ids(out / f"{name}.cold.json", split, item_ratio, user_ratio, seed)
    return out
