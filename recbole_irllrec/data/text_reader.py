"""Fast, exact reader of the text-feature atomic files.

RecBole parses a ``float_seq`` cell with a Python ``split`` and ``float()`` per
value, then pads the rows into a float64 tensor: for Amazon-book's 1536-d
profile and 3072-d intent vectors that is ~40 s and ~3 GB. Here each line is
split into its few tab-separated cells in Python (cheap, and it keeps the
physical line numbers and the ids exactly as written: ``nan``, ``NA`` and
``None`` stay strings), and the floats of a block of rows go through NumPy's
C parser straight to float32. The C parser checks that every row of the block
has the same number of values; whenever it fails or disagrees with the first
row's width (a short or long row, a non-numeric or non-finite value), the
block is parsed again value by value exactly as RecBole would, so the result
is the same and a bad row gets an error naming the file, the column, the id
and the physical line (blank lines counted).
"""
from __future__ import annotations

import locale
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from recbole.utils import FeatureType

from recbole_irllrec.data.text_features import AtomicFileError, TextFeatureError

FEATURE_TYPES = frozenset(t.value for t in FeatureType)
BLOCK_ROWS = 512  # rows parsed at once: ~25 MB of text for 3072-d vectors


@dataclass
class TextTable:
    """What :func:`read_text_table` read: per row (file order) the raw ids of
    each token column and its physical line; per vector column a float32
    matrix whose row 0 is zeros and row k + 1 the vector of row k (the padding
    row of RecBole's matrices, so the dataset can reorder rows in place)."""

    path: str
    tokens: dict[str, np.ndarray] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def read_header(path: str, field_sep: str, encoding: str) -> list[tuple[str, str]]:
    """``[(name, type), ...]`` of an atomic file's ``name:type`` header, each
    type one RecBole knows (RecBole itself fails on an empty file or a bad
    field with a bare unpacking error that names neither file nor column)."""
    try:
        with open(path, encoding=encoding) as f:
            head = f.readline().rstrip("\r\n")
    except UnicodeDecodeError:
        raise decode_error(path, encoding) from None
    if head.startswith("\ufeff"):  # else the first column's name silently starts with it
        raise AtomicFileError(
            f"{path}: line 1 starts with a byte-order mark: remove it or set encoding: utf-8-sig."
        )
    if not head:
        what = "the file is empty" if os.path.getsize(path) == 0 else "line 1 is blank"
        raise AtomicFileError(
            f"{path}: {what} (line 1): expected a header of name:type fields separated by {field_sep!r}."
        )
    header = []
    for field_type in head.split(field_sep):
        name, sep, ftype = field_type.partition(":")
        if not sep or ":" in ftype:
            raise AtomicFileError(f"{path}: column '{name}': header field {field_type!r} is not 'name:type' (line 1).")
        if ftype not in FEATURE_TYPES:
            raise AtomicFileError(
                f"{path}: column '{name}': type {ftype!r} is not one of {sorted(FEATURE_TYPES)} (line 1)."
            )
        header.append((name, ftype))
    return header


def decode_error(path: str, encoding: str) -> AtomicFileError:
    """The error for a file that is not ``encoding`` text, naming its first bad line."""
    encoding = encoding or locale.getpreferredencoding(False)  # open()'s default for None
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                break
    return AtomicFileError(f"{path}: line {number} is not {encoding} text (set the config's encoding).")


def separator_hint(value: str, seq_sep: str) -> str:
    """A hint when a sequence cell's values look separated by something other than ``seq_sep``."""
    if any(c in value for c in ", ;|" if c != seq_sep):
        return f" (values of a sequence cell are separated by seq_separator {seq_sep!r})"
    return ""


def read_text_table(
    path: str,
    names: list[str],
    token_columns: list[str],
    vector_columns: list[str],
    id_of: dict[str, str] | None = None,
    field_sep: str = "\t",
    seq_sep: str = " ",
    encoding: str = "utf-8",
) -> TextTable:
    """Read ``token_columns`` (as str) and ``vector_columns`` (as float32
    matrices) of the atomic file at ``path`` whose header names are ``names``.

    ``id_of`` maps a vector column to the token column that names its rows in
    error messages (default: the file's first column). Columns not asked for
    are never parsed.
    """
    reader = _Reader(path, names, token_columns, vector_columns, id_of or {}, field_sep, seq_sep)
    try:
        with open(path, encoding=encoding) as f:
            f.readline()  # header
            for number, line in enumerate(f, start=2):
                reader.add(line, number)
    except UnicodeDecodeError:
        raise decode_error(path, encoding) from None
    return reader.finish()


class _Reader:
    """Collects rows block by block; see :func:`read_text_table`."""

    def __init__(self, path, names, token_columns, vector_columns, id_of, field_sep, seq_sep):
        self.path, self.field_sep, self.seq_sep = path, field_sep, seq_sep
        self.n_fields = len(names)
        index = {name: k for k, name in enumerate(names)}
        self.token_index = {c: index[c] for c in token_columns}
        self.vector_index = {c: index[c] for c in vector_columns}
        self.label_index = {c: index.get(id_of.get(c), 0) for c in vector_columns}
        self.tokens: dict[str, list[str]] = {c: [] for c in token_columns}
        self.lines: list[int] = []
        self.block: dict[str, list[str]] = {c: [] for c in vector_columns}
        self.labels: dict[str, list[str]] = {c: [] for c in vector_columns}
        self.matrices: dict[str, np.ndarray] = {}
        self.capacity = _count_lines(path) if vector_columns else 0
        self.rows = 0  # rows already written into the matrices (after the padding row)

    def add(self, line: str, number: int) -> None:
        line = line.rstrip("\r\n")
        if not line or line.isspace():
            return  # a blank line, skipped as RecBole (pandas) skips it
        cells = line.split(self.field_sep)
        if len(cells) != self.n_fields:
            raise TextFeatureError(
                f"{self.path}: line {number} has {len(cells)} fields, expected {self.n_fields} "
                f"(as in the header, separated by {self.field_sep!r})."
            )
        for column, k in self.token_index.items():
            self.tokens[column].append(cells[k])
        for column, k in self.vector_index.items():
            self.block[column].append(cells[k])
            self.labels[column].append(cells[self.label_index[column]])
        self.lines.append(number)
        if len(self.lines) - self.rows >= BLOCK_ROWS:
            self.flush()

    def flush(self) -> None:
        n = len(self.lines) - self.rows
        if n == 0:
            return
        lines = self.lines[self.rows :]
        for column in self.vector_index:
            cells, labels = self.block[column], self.labels[column]
            if column not in self.matrices:
                self.matrices[column] = self._allocate(column, cells[0], labels[0], lines[0])
            matrix = self._grow(column, self.rows + n)
            width = matrix.shape[1]
            values = parse_fast(cells, width, self.seq_sep)
            if values is None:  # the C parser refused or disagreed: RecBole's way, with the exact error
                values = parse_precise(cells, width, self.seq_sep, self._fail(column, labels, lines))
            matrix[1 + self.rows : 1 + self.rows + n] = values
            cells.clear()
            labels.clear()
        self.rows += n

    def finish(self) -> TextTable:
        self.flush()
        for column in self.vector_index:  # a file without data rows: the padding row only
            self.matrices.setdefault(column, np.zeros((1, 0), dtype=np.float32))
        return TextTable(
            path=self.path,
            tokens={c: np.array(v, dtype=object) for c, v in self.tokens.items()},
            vectors={c: m[: 1 + self.rows] for c, m in self.matrices.items()},
            lines=np.array(self.lines, dtype=np.int64),
        )

    def _allocate(self, column: str, first_cell: str, label: str, line: int) -> np.ndarray:
        # the first row sets the width, as it does for RecBole's checks
        width = len(_values_of(first_cell, self.seq_sep))
        if width == 0:
            self._fail(column, [label], [line])(0, "empty vector for")
        # as many rows as the file has lines (the header's is the padding row):
        # pages never written cost no memory
        matrix = np.empty((self.capacity, width), dtype=np.float32)
        matrix[0] = 0
        return matrix

    def _grow(self, column: str, rows: int) -> np.ndarray:
        matrix = self.matrices[column]
        if 1 + rows > matrix.shape[0]:  # more lines than newlines counted (lone '\r' line ends)
            bigger = np.empty((2 * rows, matrix.shape[1]), dtype=np.float32)
            bigger[: 1 + self.rows] = matrix[: 1 + self.rows]
            self.matrices[column] = matrix = bigger
        return matrix

    def _fail(self, column: str, labels: list[str], lines: list[int]):
        def fail(row: int, message: str) -> None:
            raise TextFeatureError(
                f"{self.path}: column '{column}': {message} '{labels[row]}' (line {lines[row]})."
            )

        return fail


def parse_fast(cells: list[str], width: int, seq_sep: str) -> np.ndarray | None:
    """``[len(cells), width]`` float32 values of the cells by NumPy's C parser,
    or None where it refuses them or the result is not a finite, rectangular
    ``width``-wide block (the caller then parses them precisely)."""
    if seq_sep != " ":  # the C parser splits on one space only
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow to inf is caught below
            # a list of lines: no joined copy of the block's text
            values = np.loadtxt(cells, dtype=np.float32, delimiter=" ", comments=None, ndmin=2)
    except ValueError:
        return None
    if values.shape != (len(cells), width) or not np.isfinite(values).all():
        return None
    return values


def parse_precise(cells: list[str], width: int, seq_sep: str, fail) -> np.ndarray:
    """The cells parsed as RecBole parses a float_seq cell (``float`` of each
    non-empty ``seq_sep``-separated token), checked row by row; ``fail(row,
    message)`` raises for the first bad row."""
    out = np.empty((len(cells), width), dtype=np.float32)
    for row, cell in enumerate(cells):
        tokens = _values_of(cell, seq_sep)
        if not tokens:
            fail(row, "empty vector for")
        if len(tokens) != width:
            hint = separator_hint(cell, seq_sep)
            fail(row, f"row has {len(tokens)} values, expected {width} (as in the first row){hint}, for")
        try:
            values = np.array([float(t) for t in tokens], dtype=np.float64)
        except ValueError:
            bad = next(t for t in tokens if not is_float(t))
            fail(row, f"non-numeric value {bad!r}{separator_hint(bad, seq_sep)} for")
        if not np.isfinite(values).all():
            fail(row, "NaN or infinite value for")
        with np.errstate(over="ignore"):
            narrow = values.astype(np.float32)
        if not np.isfinite(narrow).all():
            bad = tokens[int(np.argmin(np.isfinite(narrow)))]
            fail(row, f"value {bad} overflows float32, for")
        out[row] = narrow
    return out


def _values_of(cell: str, seq_sep: str) -> list[str]:
    return [t for t in cell.split(seq_sep) if t]  # RecBole drops empty tokens (repeated separators)


def is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _count_lines(path: str) -> int:
    count = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            count += chunk.count(b"\n")
    return count
