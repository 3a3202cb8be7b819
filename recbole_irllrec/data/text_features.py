"""Column names of the text features and their validation.

The profile and intent vectors of users and items live in two RecBole atomic
files, ``<dataset>.useremb`` and ``<dataset>.itememb``. Each file carries two
id columns (RecBole's ``preload_weight`` takes one value column per id field,
so the profile and the intent column each need their own alias of the
user/item id) and two ``float_seq`` columns::

    uid_profile:token  uid_intent:token  user_profile:float_seq  user_intent:float_seq

Both id columns hold the same raw user ids. The model only relies on the four
value-column names below; the id columns may be named freely as long as
``preload_weight`` maps them to these value columns.
"""
from __future__ import annotations

from typing import Iterable

USER_SUFFIX = "useremb"
ITEM_SUFFIX = "itememb"

USER_PROFILE = "user_profile"
USER_INTENT = "user_intent"
ITEM_PROFILE = "item_profile"
ITEM_INTENT = "item_intent"

# Default id (alias) columns written by dataset_prep.
USER_PROFILE_ID = "uid_profile"
USER_INTENT_ID = "uid_intent"
ITEM_PROFILE_ID = "iid_profile"
ITEM_INTENT_ID = "iid_intent"

# suffix -> (id column, value column) pairs, in file order.
FILE_LAYOUT: dict[str, tuple[tuple[str, str], ...]] = {
    USER_SUFFIX: ((USER_PROFILE_ID, USER_PROFILE), (USER_INTENT_ID, USER_INTENT)),
    ITEM_SUFFIX: ((ITEM_PROFILE_ID, ITEM_PROFILE), (ITEM_INTENT_ID, ITEM_INTENT)),
}

TEXT_COLUMNS = (USER_PROFILE, USER_INTENT, ITEM_PROFILE, ITEM_INTENT)
PROFILE_COLUMNS = (USER_PROFILE, ITEM_PROFILE)
INTENT_COLUMNS = (USER_INTENT, ITEM_INTENT)
USER_COLUMNS = (USER_PROFILE, USER_INTENT)


class TextFeatureError(ValueError):
    """A text-feature file or setting is unusable; the message names the file,
    the column and the first offending id."""


class AtomicFileError(TextFeatureError):
    """Any atomic file (interactions, ``.user``, ``.item``, text features) is
    unusable; the one-line message names the file, the column and the physical
    line. A TextFeatureError, so one ``except`` catches every data-file error."""


def id_field_of(config, value_column: str) -> str:
    """The alias id field whose ``preload_weight`` is ``value_column``."""
    preload = config["preload_weight"] or {}
    for id_field, column in preload.items():
        if column == value_column:
            return id_field
    raise TextFeatureError(
        f"No preload_weight entry maps an id field to '{value_column}'. IRLLRec needs "
        f"{list(TEXT_COLUMNS)} loaded as atomic features, e.g. preload_weight: "
        f"{{{USER_PROFILE_ID}: {USER_PROFILE}, {USER_INTENT_ID}: {USER_INTENT}, "
        f"{ITEM_PROFILE_ID}: {ITEM_PROFILE}, {ITEM_INTENT_ID}: {ITEM_INTENT}}} "
        f"(see properties/dataset/ml-100k.yaml)."
    )


def configured_text_columns(config) -> list[str]:
    """The text columns that ``preload_weight`` declares."""
    preload = config["preload_weight"] or {}
    return [column for column in preload.values() if column in TEXT_COLUMNS]


def feature_file(config, dataset, column: str) -> str:
    import os

    source = dataset.field2source.get(column, "?")
    return os.path.join(config["data_path"], f"{config['dataset']}.{source}")


def load_text_matrices(config, dataset, columns: Iterable[str] | None = None) -> dict:
    """Text matrices as float32 tensors, row k = internal id k: the ``columns``
    asked for (default all of :data:`TEXT_COLUMNS`), by column name.

    A model passes its ``text_columns(config)``: a
    :class:`~recbole_irllrec.data.dataset.TextFeatureDataset` holds only those.
    RecBole leaves a zero row for an id without a vector; rows 1.. (row 0 is
    padding) must all be non-zero, which catches datasets that skipped the
    validation of :class:`~recbole_irllrec.data.dataset.TextFeatureDataset`.
    """
    import torch

    columns = TEXT_COLUMNS if columns is None else tuple(columns)
    unknown = [c for c in columns if c not in TEXT_COLUMNS]
    if unknown:
        raise TextFeatureError(f"{unknown} are not text columns; they are {list(TEXT_COLUMNS)}.")
    matrices = {}
    for column in columns:
        id_field = id_field_of(config, column)
        # float32 from TextFeatureDataset: shared, not copied
        matrix = torch.as_tensor(dataset.get_preload_weight(id_field), dtype=torch.float32)
        _check_finite(config, dataset, column, id_field, matrix)
        empty = (matrix[1:] == 0).all(dim=1).nonzero()
        if len(empty):
            internal = int(empty[0]) + 1
            raw = dataset.id2token(id_field, internal)
            raise TextFeatureError(
                f"{feature_file(config, dataset, column)}: column '{column}' has no vector "
                f"for id '{raw}' ({len(empty)} ids without one)."
            )
        matrices[column] = matrix
    for kind in ("profile", "intent"):
        u, i = matrices.get(f"user_{kind}"), matrices.get(f"item_{kind}")
        if u is not None and i is not None and u.shape[1] != i.shape[1]:
            raise TextFeatureError(
                f"user_{kind} vectors are {u.shape[1]}-d but item_{kind} vectors are "
                f"{i.shape[1]}-d; one tower serves both, so the widths must match."
            )
    return matrices


def _check_finite(config, dataset, column: str, id_field: str, matrix) -> None:
    """Raise for a NaN or infinite value, checked after the cast to float32:
    a float64 matrix (RecBole's own Dataset) may hold values such as 1e39
    that only overflow here, and would end training in "loss is nan"."""
    import torch

    if matrix.numel() == 0 or (torch.isfinite(matrix.amax()) and torch.isfinite(matrix.amin())):
        return  # two reductions, no full-size temporary (NaN propagates through both)
    bad = (~torch.isfinite(matrix)).any(dim=1).nonzero()
    raw = dataset.id2token(id_field, int(bad[0]))
    raise TextFeatureError(
        f"{feature_file(config, dataset, column)}: column '{column}': NaN or infinite value in float32 "
        f"(the dtype of the model) for id '{raw}' ({len(bad)} ids with one)."
    )
