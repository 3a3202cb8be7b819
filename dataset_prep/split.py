"""Per-user random split of interactions into train/valid/test.

The per-user counts follow the rule of RecBole's ``split_by_ratio``: the
valid/test shares are rounded down, a part whose share is below one
interaction gets one if the train part can spare it, and train keeps the
rest. Every user keeps at least one training interaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SPLIT_NAMES = ("train", "valid", "test")


def normalize_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Check three non-negative ratios with a positive train share; scale them to sum 1."""
    if len(ratios) != 3:
        raise ValueError(f"expected 3 ratios (train, valid, test), got {list(ratios)}")
    values = [float(r) for r in ratios]
    if any(not math.isfinite(r) or r < 0 for r in values) or values[0] <= 0:
        raise ValueError(f"ratios must be finite, >= 0, with a positive train share: {values}")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def split_counts(n: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """Number of train/valid/test interactions for a user with ``n`` interactions."""
    if n < 1:
        raise ValueError("a user needs at least one interaction")
    shares = normalize_ratios(ratios)
    counts = [int(share * n) for share in shares]
    counts[0] = n - counts[1] - counts[2]
    # Give a held-out part its single interaction when rounding down lost it (test first, as RecBole).
    for part in (2, 1):
        if counts[0] <= 1:
            break
        if 0 < shares[part] * n < 1:
            counts[part] += 1
            counts[0] -= 1
    if counts[0] < 1:
        # Only reachable with a tiny train share: take the missing one from the largest held-out part.
        donor = 1 if counts[1] >= counts[2] else 2
        counts[donor] -= 1
        counts[0] += 1
    return counts[0], counts[1], counts[2]


def split_by_user(users: Sequence[str], ratios: Sequence[float], seed: int) -> np.ndarray:
    """Assign every interaction row to a split (0 train, 1 valid, 2 test).

    ``users`` holds the user id of each row. Users are visited in sorted
    order and each draws one permutation from ``default_rng(seed)``, so the
    result depends only on the rows and the seed.
    """
    user_array = np.asarray(users, dtype=object)
    assignment = np.full(len(user_array), -1, dtype=np.int8)
    rng = np.random.default_rng(seed)
    codes, inverse = np.unique(user_array.astype(str), return_inverse=True)
    # Stable grouping keeps each user's rows in file order before shuffling.
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(codes)))
    start = 0
    for end in bounds:
        rows = order[start:end]
        n_train, n_valid, _ = split_counts(len(rows), ratios)
        shuffled = rows[rng.permutation(len(rows))]
        assignment[shuffled[:n_train]] = 0
        assignment[shuffled[n_train : n_train + n_valid]] = 1
        assignment[shuffled[n_train + n_valid :]] = 2
        start = end
    return assignment
