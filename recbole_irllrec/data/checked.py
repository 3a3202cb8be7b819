"""RecBole's Dataset with its atomic files checked and its ids read literally.

Every general model gets this Dataset (or :class:`TextFeatureDataset`, which
extends it): RecBole's reading stays as it is, one file at a time through
``_load_feat``, with the checks of :mod:`~recbole_irllrec.data.atomic_checks`
around it, and ids re-read where pandas took them for missing values.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
from recbole.data.dataset import Dataset
from recbole.utils import FeatureType

from recbole_irllrec.data.atomic_checks import check_atomic_file, check_float32, locate_bad_number
from recbole_irllrec.data.text_features import AtomicFileError
from recbole_irllrec.data.text_reader import decode_error

TOKEN_TYPES = (FeatureType.TOKEN, FeatureType.TOKEN_SEQ)
SPLIT_PARTS = ("train", "valid", "test")  # the fixed split dataset_prep writes and reads


class CheckedDataset(Dataset):
    def _load_inter_feat(self, token, dataset_path):
        check_interaction_files(dataset_path, token, self.benchmark_filename_list)
        super()._load_inter_feat(token, dataset_path)

    def _load_feat(self, filepath, source):
        load_col, unload_col = self._get_load_and_unload_col(source)
        if load_col == set():  # RecBole does not open the file
            return super()._load_feat(filepath, source)
        sep, encoding = self.config["field_separator"], self.config["encoding"]
        header = check_atomic_file(filepath, sep, encoding)
        loaded = {
            name: FeatureType(ftype)
            for name, ftype in header
            if (load_col is None or name in load_col) and (unload_col is None or name not in unload_col)
        }
        try:
            feat = super()._load_feat(filepath, source)
        except UnicodeDecodeError:
            raise decode_error(filepath, encoding) from None
        except ValueError as error:  # pandas or float() refused a number: name its line
            located = locate_bad_number(filepath, loaded, sep, self.config["seq_separator"], encoding)
            if located is not None:
                raise located from error
            raise AtomicFileError(f"{filepath}: {' '.join(str(error).split())}") from error
        feat = self._literal_tokens(feat, filepath)
        if feat is not None:
            check_float32(feat, loaded, filepath, sep, encoding)
        return feat

    def _literal_tokens(self, feat: pd.DataFrame | None, filepath: str) -> pd.DataFrame | None:
        """Token columns with the cells pandas read as missing re-read literally.

        RecBole reads ids with pandas' default NA strings, so users named
        ``NA``, ``nan`` or ``None`` would all become padding (a ``token_seq``
        cell ``NA`` an empty sequence); the files mean them as written. Only
        an empty cell stays missing, as before. Files without such cells are
        not read again.
        """
        if feat is None:
            return None
        columns = [
            c
            for c in feat
            if (self.field2type.get(c) == FeatureType.TOKEN and feat[c].isna().any())
            or (self.field2type.get(c) == FeatureType.TOKEN_SEQ and any(len(s) == 0 for s in feat[c].values))
        ]
        if not columns:
            return feat
        sep, encoding = self.config["field_separator"], self.config["encoding"]
        literal = pd.read_csv(
            filepath,
            delimiter=sep,
            usecols=[f"{c}:{self.field2type[c].value}" for c in columns],
            dtype=str,
            encoding=encoding,
            engine="python",  # as RecBole, so the rows line up
            keep_default_na=False,
            na_values=[""],
        )
        for c in columns:
            cells = literal[f"{c}:{self.field2type[c].value}"].to_numpy()
            if self.field2type[c] == FeatureType.TOKEN:
                feat[c] = cells
            else:
                feat[c] = self._literal_sequences(c, feat[c].to_numpy(), cells)
        return feat

    def _literal_sequences(self, field: str, seqs: np.ndarray, cells: np.ndarray) -> list:
        # only the sequences pandas emptied are split again, as RecBole splits (and cuts) them
        seq_sep, seq_len = self.config["seq_separator"], (self.config["seq_len"] or {}).get(field)
        out = list(seqs)
        for k in np.flatnonzero([len(s) == 0 for s in seqs]):
            if isinstance(cells[k], str):
                out[k] = np.array([t for t in cells[k].split(seq_sep) if t][:seq_len])
        self.field2seqlen[field] = max(self.field2seqlen[field], max(map(len, out)))
        return out


def check_interaction_files(folder: str, token: str, parts: list[str] | None) -> None:
    """Raise when an interaction file RecBole is about to read is missing, saying
    which setting reads the files that are there: RecBole's own "File ... not
    exist" does not tell that a split on disk needs ``benchmark_filename``."""
    split_files, key = f"{token}.{{{','.join(SPLIT_PARTS)}}}.inter", f"benchmark_filename: [{', '.join(SPLIT_PARTS)}]"
    if parts is None:
        path = os.path.join(folder, f"{token}.inter")
        if os.path.isfile(path):
            return
        if all(os.path.isfile(os.path.join(folder, f"{token}.{p}.inter")) for p in SPLIT_PARTS):
            hint = f"the folder holds {split_files}: set {key} to read that split"
        else:
            hint = f"write {token}.inter, or {split_files} and set {key}"
        raise AtomicFileError(f"{path} not found; {hint}.")
    for part in parts:
        path = os.path.join(folder, f"{token}.{part}.inter")
        if os.path.isfile(path):
            continue
        whole = os.path.join(folder, f"{token}.inter")
        if os.path.isfile(whole):
            hint = f"the folder holds {token}.inter: set benchmark_filename: ~ to let RecBole split it (eval_args)"
        else:
            hint = f"benchmark_filename: {list(parts)} reads {token}.<part>.inter for each part"
        raise AtomicFileError(f"{path} not found; {hint}.")
