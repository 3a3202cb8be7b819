"""Reading and writing RecBole atomic files (tab-separated, ``name:type`` header).

Values are kept as the raw strings of the source so that copied rows are
byte-identical to the original (a rating stays ``3``, not ``3.0``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_open
from .errors import InputError

FIELD_SEP = "\t"
SEQ_SEP = " "
TYPES = ("token", "token_seq", "float", "float_seq")  # RecBole's FeatureType values
# What RecBole's float() of each space-separated value accepts (no underscores).
_NUMBER = r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))"
_FLOAT_SEQ = re.compile(rf" *{_NUMBER}(?: +{_NUMBER})* *")


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


class AtomicFileError(InputError):
    """An atomic file RecBole could not read; the message names file, line and column."""


def read_atomic(path: str | Path) -> AtomicTable:
    """Read an atomic file with every value as a string (no NaN, no type guessing).

    Ids spelled ``nan``, ``None`` or ``NA`` stay those strings. What RecBole
    would trip over later stops here with :class:`AtomicFileError`: an empty
    file, a header cell that is not ``name:type`` with one of :data:`TYPES`,
    a row with more fields than the header, a ``float`` or ``float_seq``
    cell that is not numbers. Line numbers count physical lines; blank lines
    are skipped, as RecBole's own reader skips them.
    """
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        first = handle.readline()
    if not first:
        raise AtomicFileError(f"{path}: empty file (expected a header line of name:type cells)")
    header = tuple(first.rstrip("\r\n").split(FIELD_SEP))
    names = _header_names(path, header)
    try:
        frame = pd.read_csv(
            path,
            sep=FIELD_SEP,
            header=None,
            skiprows=1,
            names=names,
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_NONE,
            encoding="utf-8",
            skip_blank_lines=False,  # keeps row k on line k + 2 for error messages
        )
    except pd.errors.ParserError as exc:
        raise AtomicFileError(_parser_message(path, exc, len(header))) from None
    except UnicodeDecodeError:
        raise AtomicFileError(_encoding_message(path)) from None
    for cell, name in zip(header, names):
        _check_numbers(path, frame[name], cell.split(":", 1)[1], name)
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    return AtomicTable(header=header, frame=frame)


def _header_names(path: Path, header: Sequence[str]) -> list[str]:
    names: list[str] = []
    for number, cell in enumerate(header, start=1):
        name, _, kind = cell.partition(":")
        if not name or kind not in TYPES:
            raise AtomicFileError(
                f"{path}:1: column {number} {cell!r}: expected name:type with type one of {', '.join(TYPES)}"
            )
        if name in names:
            raise AtomicFileError(f"{path}:1: column {number} {cell!r}: field {name!r} appears twice")
        names.append(name)
    return names


def _parser_message(path: Path, exc: Exception, width: int) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if match:  # pandas counts physical lines, header included
        return f"{path}:{match[2]}: row has {match[3]} fields, the header has {width}"
    return f"{path}: unreadable as a tab-separated atomic file ({str(exc).strip()})"


def _encoding_message(path: Path) -> str:
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"{path}:{line}: not UTF-8 text ({exc.reason})"
    return f"{path}: not UTF-8 text"


def _check_numbers(path: Path, cells: pd.Series, kind: str, name: str) -> None:
    """Raise naming the first ``float`` / ``float_seq`` cell that RecBole's float() would reject."""
    if kind == "float":
        numbers = pd.to_numeric(cells, errors="coerce")
        suspects = (numbers.isna() & (cells != "")).to_numpy()
        bad = [k for k in np.flatnonzero(suspects) if not _is_float(cells.iat[k])]
        problem = "is not a number"
    elif kind == "float_seq":
        bad = np.flatnonzero(((cells != "") & ~cells.str.fullmatch(_FLOAT_SEQ.pattern)).to_numpy())
        problem = "is not a space-separated list of numbers"
    else:
        return
    if len(bad):
        row = int(bad[0])
        cell = cells.iat[row]
        shown = cell if len(cell) <= 40 else cell[:40] + "..."
        hint = " (values are separated by spaces, not commas)" if kind == "float_seq" and "," in cell else ""
        raise AtomicFileError(f"{path}:{row + 2}: column {name!r}: {shown!r} {problem}{hint}")


def _is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
