"""A RecBole Dataset that reads the text-feature atomic files fast and validates them.

RecBole parses a ``float_seq`` cell value by value in Python and keeps the
vectors as a padded float64 tensor (Amazon-book: ~40 s, ~3 GB). Here a text
file's id columns still flow through RecBole (aliases, remapping and
``id2token`` work unchanged), but its vectors are read by
:mod:`~recbole_irllrec.data.text_reader` straight to float32 and kept out of
RecBole's frames: ``get_preload_weight(id_field)`` returns them as an
``[n_ids, width]`` float32 array, row k = internal id k, row 0 zeros.

Only the text columns the configured model reads
(:func:`recbole_irllrec.utils.text_columns_needed`) are parsed; a text file
the model reads nothing of is not opened at all, so it need not exist.

RecBole itself accepts a missing row (zeros), a short row (zero padded), a
long row (widens the matrix) and an id unknown to the interactions (a new
user). Each of these raises :class:`TextFeatureError` here, naming the file,
the column, the first offending id and its line, before any id is remapped.
Every other file is read by RecBole, checked by the base class
:class:`~recbole_irllrec.data.checked.CheckedDataset`.
"""
from __future__ import annotations

import contextlib
import os
from collections import Counter

import numpy as np
import pandas as pd
from recbole.utils import FeatureType

from recbole_irllrec import utils as plugin_utils
from recbole_irllrec.data.atomic_checks import check_atomic_file
from recbole_irllrec.data.checked import CheckedDataset
from recbole_irllrec.data.text_features import FILE_LAYOUT, TEXT_COLUMNS, AtomicFileError, TextFeatureError
from recbole_irllrec.data.text_reader import TextTable, read_header, read_text_table

SCATTER_ROWS = 4096  # rows copied at once when ordering vectors by internal id


class TextFeatureDataset(CheckedDataset):
    def __init__(self, config):
        # decided once, before RecBole reads anything
        self._text_needed = frozenset(plugin_utils.text_columns_needed(config))
        pairs = text_pairs(config)
        # the text columns this model does not read, with their id (alias) fields
        self._text_left_out = frozenset(
            f for id_field, column in pairs.items() if column not in self._text_needed for f in (id_field, column)
        )
        self._text_suffixes = frozenset(s for s in config["additional_feat_suffix"] or [] if _is_text_suffix(config, s))
        self._text_tables: dict[str, TextTable] = {}  # suffix -> read vectors, until preloaded
        super().__init__(config)

    # ------------------------------------------------------------ reading
    def _load_additional_feat(self, token, dataset_path):
        # RecBole's loop, except that a text file the model reads nothing of is skipped
        for suffix in self.config["additional_feat_suffix"] or []:
            if hasattr(self, f"{suffix}_feat"):
                raise ValueError(f"{suffix}_feat already exist.")
            path = os.path.join(dataset_path, f"{token}.{suffix}")
            if suffix in self._text_suffixes and not self._wanted_columns(suffix, path):
                self.logger.debug(f"[{path}] skipped: model {self.config['model']} reads none of its columns.")
                continue
            if not os.path.isfile(path):
                raise ValueError(f"Additional feature file [{path}] not found.{self._missing_text_hint(suffix, path)}")
            setattr(self, f"{suffix}_feat", self._load_feat(path, suffix))

    def _missing_text_hint(self, suffix: str, path: str) -> str:
        if suffix not in self._text_suffixes:
            return ""
        columns = sorted(self._wanted_columns(suffix, path) & set(TEXT_COLUMNS))
        return (
            f" Model {self.config['model']} reads {columns} from it: write the texts with `python -m dataset_prep "
            f"intents` and the vectors with `python -m dataset_prep embed` (README, \"Text vectors\")."
        )

    def _load_feat(self, filepath, source):
        if isinstance(source, str) and source in self._text_suffixes:
            return self._load_text_feat(filepath, source)
        return super()._load_feat(filepath, source)

    def _wanted_columns(self, suffix: str, path: str) -> set[str]:
        """The columns of a text file that this run loads (RecBole's
        load_col/unload_col, less the text columns the model does not read)."""
        load_col, unload_col = self._get_load_and_unload_col(suffix)
        if load_col is not None:
            names = set(load_col)
        elif os.path.isfile(path):
            names = {name for name, _ in read_header(path, self.config["field_separator"], self.config["encoding"])}
        else:
            names = {c for pair in FILE_LAYOUT.get(suffix, ()) for c in pair}
        return names - set(unload_col or ()) - self._text_left_out

    def _load_text_feat(self, filepath: str, suffix: str) -> pd.DataFrame | None:
        """The id columns as RecBole's frame; the vectors go to ``_text_tables``."""
        header = check_atomic_file(filepath, self.config["field_separator"], self.config["encoding"])
        wanted = self._wanted_columns(suffix, filepath)
        preloaded = set((self.config["preload_weight"] or {}).values())
        token_columns, vector_columns = [], []
        for name, ftype in header:
            if name not in wanted:
                continue
            ftype = FeatureType(ftype)  # a known type: checked with the header
            if ftype == FeatureType.TOKEN:
                token_columns.append(name)
            elif ftype == FeatureType.FLOAT_SEQ and name in preloaded:
                vector_columns.append(name)
            elif ftype != FeatureType.FLOAT_SEQ:
                raise AtomicFileError(
                    f"{filepath}: column '{name}' is {ftype.value} (line 1); a text-feature file holds "
                    f"token ids and float_seq vectors only."
                )
            # a float_seq column that no preload_weight entry names is unreachable: not parsed
        if not token_columns:
            self.logger.warning(f"No columns has been loaded from [{suffix}]")
            return None
        # errors name a row by the id field its column is preloaded under
        id_of = {c: f for f, c in (self.config["preload_weight"] or {}).items() if f in token_columns}
        table = read_text_table(
            filepath,
            [name for name, _ in header],
            token_columns,
            vector_columns,
            id_of=id_of,
            field_sep=self.config["field_separator"],
            seq_sep=self.config["seq_separator"],
            encoding=self.config["encoding"],
        )
        if len(table.lines) == 0:  # rows of whitespace only, which the reader skips
            raise AtomicFileError(f"{filepath}: no data rows after the header (line 1).")
        self._register_fields(suffix, table)
        self._text_tables[suffix] = table
        return pd.DataFrame({name: table.tokens[name] for name in token_columns})

    def _register_fields(self, suffix: str, table: TextTable) -> None:
        # the properties RecBole's _load_feat would set (num(), field2source work as before)
        for name in table.tokens:
            self.field2source[name] = suffix
            self.field2type[name] = FeatureType.TOKEN
            self.field2seqlen[name] = 1
        for name, matrix in table.vectors.items():
            self.field2source[name] = suffix
            self.field2type[name] = FeatureType.FLOAT_SEQ
            self.field2bucketnum[name] = 2
            self.field2seqlen[name] = matrix.shape[1]

    # ------------------------------------------------------------ checks
    def _load_data(self, token, dataset_path):
        super()._load_data(token, dataset_path)
        self._check_normalisation()
        for id_field, column in text_pairs(self.config).items():
            if column not in self._text_left_out:
                self._validate_text_column(dataset_path, token, id_field, column)

    def _check_normalisation(self) -> None:
        held = {c for table in self._text_tables.values() for c in table.vectors}
        held |= set(TEXT_COLUMNS) - self._text_left_out
        fields = held if self.config["normalize_all"] else set(self.config["normalize_field"] or []) & held
        if fields:
            raise TextFeatureError(
                f"Text vectors {sorted(fields)} would be min-max normalised by RecBole; set "
                f"normalize_all: False and keep them out of normalize_field."
            )

    def _validate_text_column(self, dataset_path: str, token: str, id_field: str, column: str) -> None:
        source = self.field2source.get(column)
        table = self._text_tables.get(source) if isinstance(source, str) else None
        if table is None or column not in table.vectors:
            raise TextFeatureError(
                f"Column '{column}' is not loaded: list its file suffix in "
                f"additional_feat_suffix and the column in load_col."
            )
        path = table.path
        if id_field not in table.tokens:
            raise TextFeatureError(f"{path}: id column '{id_field}' for '{column}' is not in this file.")
        if id_field in (self.config["alias_of_user_id"] or []):
            entity, entity_field = "user", self.uid_field
        elif id_field in (self.config["alias_of_item_id"] or []):
            entity, entity_field = "item", self.iid_field
        else:
            raise TextFeatureError(
                f"{path}: id column '{id_field}' must be listed in alias_of_user_id or alias_of_item_id."
            )
        if entity_field not in self.inter_feat:
            raise TextFeatureError(
                f"The interactions hold no '{entity_field}' column for '{column}': list it in load_col's inter."
            )
        inter_ids = self.inter_feat[entity_field].dropna()  # an empty id cell: RecBole drops the row
        ids, lines = table.tokens[id_field], table.lines

        def fail(message: str, raw_id, row: int | None = None) -> None:
            where = f" (line {lines[row]})" if row is not None else ""
            raise TextFeatureError(f"{path}: column '{column}': {message} '{raw_id}'{where}.")

        rows = pd.Index(ids)
        duplicated = rows.duplicated()
        if duplicated.any():
            row = int(np.argmax(duplicated))
            fail(f"duplicate row for {entity}", ids[row], row)
        inter = inter_ids.to_numpy()
        missing = rows.get_indexer(inter) < 0
        if missing.any():
            fail(f"no row for {entity} of the interactions", inter[int(np.argmax(missing))])
        unknown = pd.Index(pd.unique(inter)).get_indexer(ids) < 0
        if unknown.any():
            row = int(np.argmax(unknown))
            fail(f"{entity} id unknown to the interactions", ids[row], row)
        # widths, numbers and finiteness were checked row by row by the reader

    # ------------------------------------------------------------ ids and matrices
    def _set_alias(self, alias_name, default_value):
        super()._set_alias(alias_name, default_value)
        # the id fields of text columns this model does not read are not loaded
        alias = self.alias[alias_name]
        self.alias[alias_name] = alias[~np.isin(alias, list(self._text_left_out))]

    def _preload_weight_matrix(self):
        preload = self.config["preload_weight"] or {}
        held = {c for table in self._text_tables.values() for c in table.vectors}
        ours = {f: c for f, c in preload.items() if c in held}
        rest = {f: c for f, c in preload.items() if f not in ours and f not in self._text_left_out}
        with _config_value(self.config, "preload_weight", rest or None):
            super()._preload_weight_matrix()
        uses = Counter(ours.values())
        for id_field, column in ours.items():
            uses[column] -= 1
            self._preloaded_weight[id_field] = self._vectors_by_id(id_field, column, last_use=uses[column] == 0)
        self._text_tables.clear()  # the matrices above are all the dataset keeps

    def _vectors_by_id(self, id_field: str, column: str, last_use: bool) -> np.ndarray:
        """``[num(id_field), width]`` float32, row k = the vector of internal id
        k (looked up by raw id), rows without a vector zero, as RecBole's.

        The reader's matrix already has RecBole's padding row; when every id
        has a vector (what validation ensures) its rows are reordered in
        place, so the dataset holds the vectors once, not twice."""
        table = self._text_tables[self.field2source[column]]
        padded = table.vectors[column]
        internal = self.field2feats(id_field)[0][id_field].to_numpy()
        raw = self.field2id_token[id_field][internal]
        rows = pd.Index(table.tokens[id_field]).get_indexer(raw)
        if (rows < 0).any():  # cannot happen after _validate_text_column; never scatter row -1
            raise TextFeatureError(f"{table.path}: no row for '{raw[int(np.argmax(rows < 0))]}' of '{id_field}'.")
        n_ids = self.num(id_field)
        if last_use and len(padded) == n_ids and _covers(internal, n_ids) and _covers(rows + 1, n_ids):
            destination = np.zeros(n_ids, dtype=np.int64)
            destination[rows + 1] = internal
            _move_rows(padded, destination)
            del table.vectors[column]
            return padded
        matrix = np.zeros((n_ids, padded.shape[1]), dtype=np.float32)
        for start in range(0, len(rows), SCATTER_ROWS):  # in slices: no full-size temporary
            part = slice(start, start + SCATTER_ROWS)
            matrix[internal[part]] = padded[rows[part] + 1]
        if last_use:
            del table.vectors[column]
        return matrix

    def get_preload_weight(self, field):
        """RecBole's preloaded matrix of ``field`` (text vectors as float32)."""
        if field in self._text_left_out:
            raise TextFeatureError(
                f"'{field}' was not loaded: model {self.config['model']} reads only the text "
                f"columns {sorted(self._text_needed)} (text_columns)."
            )
        return super().get_preload_weight(field)

    @property
    def text_vectors_bytes(self) -> int:
        """Bytes of the text vectors this dataset holds (0 for a model without text)."""
        text_ids = {f for f, c in text_pairs(self.config).items() if c not in self._text_left_out}
        return sum(m.nbytes for f, m in self._preloaded_weight.items() if f in text_ids)


def _covers(ids: np.ndarray, n: int) -> bool:
    """Whether ``ids`` are 1 .. n - 1, each once."""
    return len(ids) == n - 1 and np.array_equal(np.sort(ids), np.arange(1, n))


def _move_rows(matrix: np.ndarray, destination: np.ndarray) -> None:
    """Move row p of ``matrix`` to row ``destination[p]`` (a permutation), in
    place: each cycle of the permutation is followed with one spare row."""
    done = destination == np.arange(len(destination))
    for start in np.flatnonzero(~done):
        carry, position = matrix[start].copy(), start
        while not done[position]:
            done[position] = True
            target = destination[position]
            saved = matrix[target].copy()
            matrix[target] = carry
            carry, position = saved, target


def text_pairs(config) -> dict[str, str]:
    """``{id field: text column}`` of the ``preload_weight`` entries that load text."""
    return {f: c for f, c in (config["preload_weight"] or {}).items() if c in TEXT_COLUMNS}


def _is_text_suffix(config, suffix: str) -> bool:
    listed = (config["load_col"] or {}).get(suffix)
    return suffix in FILE_LAYOUT or (isinstance(listed, (list, tuple)) and bool(set(listed) & set(TEXT_COLUMNS)))


@contextlib.contextmanager
def _config_value(config, key: str, value):
    # RecBole's _preload_weight_matrix reads the entries from the config itself
    saved = config[key]
    config[key] = value
    try:
        yield
    finally:
        config[key] = saved
