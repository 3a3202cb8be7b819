"""The cold-start protocol's data side: which folder holds a cold split, and
which ids are cold (no training interaction).

A cold split is made on disk, before any text or vector is written, by
``dataset_prep`` (``cold_item_ratio``, ``cold_user_ratio``, ``cold_seed``):
a seeded share of items (users) loses every training interaction, which moves
to validation or test. Texts are written from the train file afterwards, so
a cold node's text can only come from its attributes. This module holds the
part both packages need (the folder name of the embedded ml-100k's cold
variants) and what the plugin does with a loaded split.
"""
from __future__ import annotations

import numpy as np

COLD_KEYS = ("cold_item_ratio", "cold_user_ratio", "cold_seed")


def cold_settings(config) -> tuple[float, float, int]:
    """``(cold_item_ratio, cold_user_ratio, cold_seed)``, checked: ratios in [0, 1)."""
    item_ratio, user_ratio, seed = (config[key] for key in COLD_KEYS)
    for key, ratio in zip(COLD_KEYS, (item_ratio, user_ratio)):
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 <= ratio < 1:
            raise ValueError(f"{key} must be a number in [0, 1), got {ratio!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"cold_seed must be an integer, got {seed!r}")
    return float(item_ratio), float(user_ratio), int(seed)


def is_cold_split(item_ratio: float, user_ratio: float) -> bool:
    return item_ratio > 0 or user_ratio > 0


def embedded_folder_name(dataset: str, item_ratio: float, user_ratio: float, seed: int) -> str:
    """The folder of the embedded dataset under ``data_path``: ``ml-100k`` itself,
    or ``ml-100k-cold-i0.2-u0-s2020`` for a cold split (files inside keep the
    dataset's name, as RecBole reads ``<folder>/<dataset>.<suffix>``)."""
    if not is_cold_split(item_ratio, user_ratio):
        return dataset
    return f"{dataset}-cold-i{item_ratio:g}-u{user_ratio:g}-s{seed}"


def cold_ids(train_dataset, n: int, field: str) -> np.ndarray:
    """Internal ids in ``1..n-1`` of ``field`` (user or item) with no training interaction."""
    counts = np.bincount(train_dataset.inter_feat[field].numpy(), minlength=n)
    return np.flatnonzero(counts[1:] == 0) + 1


def exclude_cold_negatives(config, train_data) -> int:
    """In a cold-item split, never draw a cold item as a training negative: the
    model is to meet it first at scoring time, as a new item would arrive.
    Returns how many items are excluded (0 outside a cold-item split)."""
    item_ratio, _, _ = cold_settings(config)
    sampler = getattr(train_data, "_sampler", None)
    if not item_ratio or sampler is None or getattr(sampler, "used_ids", None) is None:
        return 0
    dataset = train_data._dataset
    cold = set(cold_ids(dataset, dataset.item_num, dataset.iid_field).tolist())
    # RecBole's sampler redraws any item in a user's used set; the sets are per user, shared by nothing else
    for used in sampler.used_ids:
        used.update(cold)
    return len(cold)
