"""Reading and writing RecBole atomic files (tab-separated, ``name:type`` header).

Values are kept as the raw strings of the source so that copied rows are
byte-identical to the original (a rating stays ``3``, not ``3.0``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_open

FIELD_SEP = "\t"
SEQ_SEP = " "


@dataclass(frozen=True)
class AtomicTable:
    """An atomic file: its header cells (``name:type``) and string-valued rows."""

    header: tuple[str, ...]
    frame: pd.DataFrame  # columns are the bare field names, every value a str

    def column(self, name: str) -> list[str]:
        """Values of one field as a list of strings."""
        return self.frame[name].tolist()


def field_name(header_cell: str) -> str:
    """``'user_id:token'`` -> ``'user_id'``."""
    return header_cell.split(":", 1)[0]


def read_atomic(path: str | Path) -> AtomicTable:
    """Read an atomic file with every value as a string (no NaN, no type guessing)."""
    with open(path, encoding="utf-8", newline="") as handle:
        header = tuple(handle.readline().rstrip("\r\n").split(FIELD_SEP))
    frame = pd.read_csv(
        path,
        sep=FIELD_SEP,
        header=None,
        skiprows=1,
        names=[field_name(cell) for cell in header],
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        encoding="utf-8",
    )
    return AtomicTable(header=header, frame=frame)


def write_atomic(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Atomically write an atomic file; returns the number of data rows."""
    width = len(header)
    count = 0
    with atomic_open(path, "w") as handle:
        handle.write(FIELD_SEP.join(header) + "\n")
        for row in rows:
            if len(row) != width:
                raise ValueError(f"row {count} of {path} has {len(row)} values, header has {width}")
            cells = [str(cell) for cell in row]
            if any(FIELD_SEP in cell or "\n" in cell for cell in cells):
                raise ValueError(f"row {count} of {path} contains a tab or newline")
            handle.write(FIELD_SEP.join(cells) + "\n")
            count += 1
    return count


def format_float_seq(vector: np.ndarray) -> str:
    """Compact ``float_seq`` cell: space-separated values with 7 significant digits."""
    return SEQ_SEP.join(format(value, ".7g") for value in vector.tolist())


def parse_float_seq(cell: str) -> np.ndarray:
    """Inverse of :func:`format_float_seq`."""
    return np.array([float(v) for v in cell.split(SEQ_SEP) if v], dtype=np.float32)


def sort_ids(ids: Iterable[str]) -> list[str]:
    """Sort raw ids numerically when they are all integers, else as strings."""
    unique = set(ids)
    if all(i.isdigit() for i in unique):
        return sorted(unique, key=int)
    return sorted(unique)
