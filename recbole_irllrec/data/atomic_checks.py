"""Checks of an atomic file around RecBole's own reader.

RecBole reads interactions, ``.user``/``.item`` and other feature files with
pandas and trusts them: an empty file, a bare header or a bad ``name:type``
field end in an unpacking error, a pandas ``EmptyDataError`` or ``max() arg
is an empty sequence``; a non-numeric number in a pandas message without a
line; and a number beyond float32 (``1e39``) passes in float64 and becomes
``inf`` when RecBole and the model cast it, so training ends in "loss is
nan". Here each of these is one :class:`AtomicFileError` naming the file, the
column and the physical line (blank lines and ``\\r\\n`` ends counted as an
editor counts them).

A good file costs a header read and vectorised checks; only a bad one is read
again to find the line.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from recbole.utils import FeatureType

from recbole_irllrec.data.text_features import AtomicFileError
from recbole_irllrec.data.text_reader import decode_error, is_float, read_header, separator_hint

NUMERIC = (FeatureType.FLOAT, FeatureType.FLOAT_SEQ)


def is_data_line(line: str, field_sep: str) -> bool:
    """Whether pandas (RecBole's python engine) reads ``line`` as a row: it
    skips a line without a separator that is empty or whitespace only."""
    return field_sep in line or bool(line.strip())


def check_atomic_file(path: str, field_sep: str, encoding: str) -> list[tuple[str, str]]:
    """The checked ``[(name, type), ...]`` header of ``path``, which must also
    hold a data row. Stops reading at the first one."""
    header = read_header(path, field_sep, encoding)
    try:
        with open(path, encoding=encoding) as f:
            # no line end after the header: no rows (and RecBole would cut the header's last character)
            if f.readline().endswith("\n") and any(is_data_line(line.rstrip("\n"), field_sep) for line in f):
                return header
    except UnicodeDecodeError:
        raise decode_error(path, encoding) from None
    raise AtomicFileError(f"{path}: no data rows after the header (line 1).")


def data_lines(path: str, field_sep: str, encoding: str) -> np.ndarray:
    """The physical line number of each row pandas reads from ``path``, in order."""
    numbers = []
    with open(path, encoding=encoding) as f:  # universal newlines: '\r\n' is one line, as in an editor
        f.readline()
        for number, line in enumerate(f, start=2):
            if is_data_line(line.rstrip("\n"), field_sep):
                numbers.append(number)
    return np.array(numbers, dtype=np.int64)


def locate_bad_number(
    path: str, columns: dict[str, FeatureType], field_sep: str, seq_sep: str, encoding: str
) -> AtomicFileError | None:
    """The error for the first value of a ``float``/``float_seq`` column that
    RecBole's reader could not parse (None if there is none). Run after it failed."""
    numeric = {name: ftype for name, ftype in columns.items() if ftype in NUMERIC}
    if not numeric:
        return None
    spelled = {name: f"{name}:{ftype.value}" for name, ftype in numeric.items()}
    # the cells as text, rows as RecBole's reader has them (pandas' missing values stay missing)
    cells = pd.read_csv(
        path, delimiter=field_sep, usecols=list(spelled.values()), dtype=str, encoding=encoding, engine="python"
    )
    found = []  # (row, column, value, hint)
    for name, ftype in numeric.items():
        column = cells[spelled[name]]
        if ftype == FeatureType.FLOAT:
            bad = column.notna().to_numpy() & pd.to_numeric(column, errors="coerce").isna().to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                found.append((row, name, column.iloc[row], ""))
            continue
        for row, cell in enumerate(column.fillna("")):  # RecBole's own per-value loop, on the error path only
            bad = next((t for t in cell.split(seq_sep) if t and not is_float(t)), None)
            if bad is not None:
                found.append((row, name, bad, separator_hint(bad, seq_sep)))
                break
    if not found:
        return None
    row, name, value, hint = min(found)
    line = data_lines(path, field_sep, encoding)[row]
    return AtomicFileError(f"{path}: column '{name}': non-numeric value {value!r}{hint} (line {line}).")


def check_float32(
    feat: pd.DataFrame, columns: dict[str, FeatureType], path: str, field_sep: str, encoding: str
) -> None:
    """Raise for a ``float``/``float_seq`` value of ``feat`` that is not finite
    in float32, the dtype RecBole's interactions and the models use. A missing
    ``float`` cell (NaN, filled in later by RecBole) is allowed."""
    for name, ftype in columns.items():
        if ftype not in NUMERIC or name not in feat or len(feat) == 0:
            continue
        if ftype == FeatureType.FLOAT:
            values = feat[name].to_numpy(dtype=np.float64)
            rows = np.arange(len(values))
            allowed = np.isnan(values)
        else:
            lengths = np.fromiter((len(v) for v in feat[name].values), dtype=np.int64, count=len(feat))
            values = np.concatenate([np.asarray(v, dtype=np.float64) for v in feat[name].values])
            rows = np.repeat(np.arange(len(lengths)), lengths)
            allowed = np.zeros(len(values), dtype=bool)
        with np.errstate(over="ignore", invalid="ignore"):
            bad = ~np.isfinite(values.astype(np.float32)) & ~allowed
        if bad.any():
            k = int(np.argmax(bad))
            line = data_lines(path, field_sep, encoding)[rows[k]]
            raise AtomicFileError(
                f"{path}: column '{name}': value {float(values[k])!r} is not finite in float32 (line {line})."
            )
