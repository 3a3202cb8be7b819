"""Writing the ``.useremb`` / ``.itememb`` feature files.

The column names come from :mod:`recbole_irllrec.data.text_features` so the
files always match what the model's ``preload_weight`` config expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recbole_irllrec.data.text_features import FILE_LAYOUT

from .recbole_io import format_float_seq, write_atomic


def feature_header(suffix: str) -> list[str]:
    """Header cells for ``suffix`` (``useremb``/``itememb``): both id aliases, then both vectors."""
    layout = FILE_LAYOUT[suffix]
    return [f"{id_col}:token" for id_col, _ in layout] + [f"{value_col}:float_seq" for _, value_col in layout]


def write_feature_file(
    path: str | Path,
    suffix: str,
    ids: Sequence[str],
    profiles: np.ndarray,
    intents: np.ndarray,
) -> int:
    """Atomically write one row per id: the id twice, its profile and its intent vector."""
    if not (len(ids) == len(profiles) == len(intents)):
        raise ValueError(f"{len(ids)} ids but {len(profiles)} profile and {len(intents)} intent vectors")
    if len(set(ids)) != len(ids):
        raise ValueError("feature ids must be unique")
    layout = FILE_LAYOUT[suffix]
    if len(layout) != 2:
        raise ValueError(f"expected a profile and an intent column for {suffix}, got {layout}")

    def rows():
        for raw_id, profile, intent in zip(ids, profiles, intents):
            yield (raw_id, raw_id, format_float_seq(profile), format_float_seq(intent))

    return write_atomic(path, feature_header(suffix), rows())
