"""A RecBole Dataset that validates the text-feature atomic files on load.

RecBole itself accepts a missing row (zeros), a short row (zero padded), a
long row (widens the matrix) and an id unknown to the interactions (a new
user). Each of these raises :class:`TextFeatureError` here, naming the file,
the column and the first offending id, before any id is remapped.
"""
from __future__ import annotations

import os

import numpy as np
from recbole.data.dataset import Dataset

from recbole_irllrec.data.text_features import TEXT_COLUMNS, TextFeatureError


class TextFeatureDataset(Dataset):
    def _load_data(self, token, dataset_path):
        super()._load_data(token, dataset_path)
        self._check_normalisation()
        preload = self.config["preload_weight"] or {}
        for id_field, column in preload.items():
            if column in TEXT_COLUMNS:
                self._validate_text_column(token, dataset_path, id_field, column)

    def _check_normalisation(self) -> None:
        fields = set(self.config["normalize_field"] or [])
        if self.config["normalize_all"]:
            fields |= set(TEXT_COLUMNS)
        touched = sorted(fields & set(TEXT_COLUMNS))
        if touched:
            raise TextFeatureError(
                f"Text vectors {touched} would be min-max normalised by RecBole; set "
                f"normalize_all: False and keep them out of normalize_field."
            )

    def _validate_text_column(self, token: str, dataset_path: str, id_field: str, column: str) -> None:
        source = self.field2source.get(column)
        if source is None or not isinstance(source, str):
            raise TextFeatureError(
                f"Column '{column}' is not loaded: list its file suffix in "
                f"additional_feat_suffix and the column in load_col."
            )
        path = os.path.join(dataset_path, f"{token}.{source}")
        if self.field2source.get(id_field) != source:
            raise TextFeatureError(f"{path}: id column '{id_field}' for '{column}' is not in this file.")
        if id_field in (self.config["alias_of_user_id"] or []):
            entity, inter_ids = "user", self.inter_feat[self.uid_field]
        elif id_field in (self.config["alias_of_item_id"] or []):
            entity, inter_ids = "item", self.inter_feat[self.iid_field]
        else:
            raise TextFeatureError(
                f"{path}: id column '{id_field}' must be listed in alias_of_user_id or alias_of_item_id."
            )
        feat = getattr(self, f"{source}_feat")
        ids = feat[id_field].astype(str).to_numpy()

        def fail(message: str, raw_id, row: int | None = None) -> None:
            where = f" (line {row + 2})" if row is not None else ""
            raise TextFeatureError(f"{path}: column '{column}': {message} '{raw_id}'{where}.")

        seen: set = set()
        for row, raw in enumerate(ids):
            if raw in seen:
                fail(f"duplicate row for {entity}", raw, row)
            seen.add(raw)
        known = set(inter_ids.astype(str).to_numpy())
        for raw in inter_ids.astype(str).to_numpy():
            if raw not in seen:
                fail(f"no row for {entity} of the interactions", raw)
        for row, raw in enumerate(ids):
            if raw not in known:
                fail(f"{entity} id unknown to the interactions", raw, row)
        values = feat[column].to_list()
        width = len(values[0]) if values else 0
        for row, vector in enumerate(values):
            if len(vector) == 0 or len(vector) != width:
                fail(f"row has {len(vector)} values, expected {width} (as in the first row), for", ids[row], row)
            if not np.isfinite(vector).all():
                fail("NaN or infinite value for", ids[row], row)
