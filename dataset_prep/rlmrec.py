"""Conversion of RLMRec / IRLLRec benchmark splits into RecBole atomic files.

The authors publish each dataset as three pickled scipy.sparse user x item
matrices (``trn_mat.pkl``, ``val_mat.pkl``, ``tst_mat.pkl``; rows = users,
columns = items, a non-zero entry = an interaction) and, optionally, numpy
arrays of text embeddings aligned with the matrix rows / columns:

- profile vectors ``usr_emb_np.pkl`` / ``itm_emb_np.pkl`` (RLMRec),
- intent vectors ``user_intent_emb_3.pkl`` / ``item_intent_emb_3.pkl`` (IRLLRec).

:func:`convert_rlmrec` writes ``<data_root>/<name>/`` with
``<name>.{train,valid,test}.inter`` (``user_id:token item_id:token``; the raw
ids are the matrix indices as strings) and, when the embeddings are present,
``<name>.useremb`` / ``<name>.itememb`` in the layout of
:mod:`recbole_irllrec.data.text_features`. Pickles are read with
:mod:`dataset_prep.safe_pickle`, never with ``pickle.load``.

Ids without any interaction: RecBole builds its id vocabulary from every
loaded file, so a feature row for an id that is in no split would become an
extra user/item with no interactions (and recbole_irllrec's
``TextFeatureDataset`` refuses such rows outright). Feature rows are therefore
written only for ids that occur in at least one split; the manifest counts the
rows left out. (The published amazon and movie splits have none: every user
and item has a training interaction.)
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recbole_irllrec.data.text_features import ITEM_SUFFIX, USER_SUFFIX

from .atomic import staged_directory
from .errors import InputError
from .features import write_feature_file
from .manifest import MANIFEST_FORMAT, MANIFEST_NAME, fingerprint, reusable, write_manifest
from .recbole_io import write_atomic
from .safe_pickle import load_pickle
from .split import SPLIT_NAMES

logger = logging.getLogger(__name__)

SPLIT_FILES = {"train": "trn_mat.pkl", "valid": "val_mat.pkl", "test": "tst_mat.pkl"}
PROFILE_FILES = {"user": "usr_emb_np.pkl", "item": "itm_emb_np.pkl"}
INTENT_FILES = {"user": "user_intent_emb_3.pkl", "item": "item_intent_emb_3.pkl"}
INTER_HEADER = ("user_id:token", "item_id:token")
CONVERTER = "rlmrec/1"
# RecBole (and this plugin's Config) give these names their own bundled folder.
RESERVED_NAMES = {"ml-100k"}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RLMRecInputError(InputError):
    """The source folder cannot be converted; the message names the file(s)."""


@dataclass(frozen=True)
class Interactions:
    """One split as sorted (user, item) index pairs."""

    users: np.ndarray
    items: np.ndarray


def convert_rlmrec(
    src_dir: str | Path,
    name: str,
    *,
    data_root: str | Path = "dataset",
    emb_dir: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Build (or reuse) ``<data_root>/<name>`` from ``src_dir`` and return its path.

    ``emb_dir`` (default ``src_dir``) holds the embedding pickles: all four or
    none (none is an error only when ``emb_dir`` is given). The folder is staged and renamed into place, so a failed
    conversion leaves an existing folder untouched.
    """
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise RLMRecInputError(
            f"dataset name {name!r} is not usable: use letters, digits, '.', '_' or '-' "
            f"(and not {sorted(RESERVED_NAMES)}, which RecBole maps to its bundled copy)"
        )
    source = Path(src_dir)
    emb_source = Path(emb_dir) if emb_dir is not None else source
    split_paths = {split: source / file for split, file in SPLIT_FILES.items()}
    missing = [str(p) for p in split_paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing RLMRec split file(s): {', '.join(missing)}")
    emb_paths = _embedding_paths(emb_source, required=emb_dir is not None)

    target = Path(data_root) / name
    sources = dict(split_paths)
    for side, (profile, intent) in emb_paths.items():
        sources[f"{side}_profile"], sources[f"{side}_intent"] = profile, intent
    params = {
        "format": MANIFEST_FORMAT,  # outputs are hashed from format 3 on
        "converter": CONVERTER,
        "dataset": name,
        "sources": {role: fingerprint(path) for role, path in sources.items()},
    }
    if not force and reusable(target, params):
        logger.info("Reusing converted dataset at %s (manifest matches).", target)
        return target

    started = time.perf_counter()
    shape, splits = _load_splits(split_paths)
    features = {side: _load_side(side, paths, shape) for side, paths in emb_paths.items()}
    _check_widths(features, emb_paths)
    logger.info("Converting %s (%d users x %d items) into %s.", source, shape[0], shape[1], target)
    with staged_directory(target) as staging:
        stats = _write(staging, name, splits, features)
        stats["matrix_shape"] = list(shape)
        stats["seconds"] = round(time.perf_counter() - started, 2)
        outputs = [p.name for p in staging.iterdir()]
        _keep_added_files(target, staging, set(outputs))
        write_manifest(staging, params, outputs, stats)
    logger.info("Converted %s in %.1f s: %s", target, time.perf_counter() - started, stats)
    return target


def _keep_added_files(target: Path, staging: Path, outputs: set[str]) -> None:
    """Copy into the rebuilt folder the files other commands added to ``target``
    (``intents`` texts, ``embed`` vectors): they cost LLM calls, and
    ``managed_folder_message`` lets those commands write here on that promise.
    A file the conversion writes itself replaces the added one."""
    if not target.is_dir():
        return
    added = [p for p in sorted(target.iterdir()) if p.is_file() and p.name not in outputs and p.name != MANIFEST_NAME]
    for path in added:
        shutil.copy2(path, staging / path.name)
    if added:
        logger.warning("Kept %s added to %s since the last conversion; if the split changed, write them again "
                       "(`python -m dataset_prep intents` / `embed`).", ", ".join(p.name for p in added), target)


def _embedding_paths(folder: Path, required: bool) -> dict[str, tuple[Path, Path]]:
    """``side -> (profile, intent)`` paths; empty when no embedding file is there
    (an error when the folder was named explicitly, ``required``)."""
    wanted = {side: (folder / PROFILE_FILES[side], folder / INTENT_FILES[side]) for side in ("user", "item")}
    present = [p for pair in wanted.values() for p in pair if p.is_file()]
    if not present and required:
        names = ", ".join(list(PROFILE_FILES.values()) + list(INTENT_FILES.values()))
        raise FileNotFoundError(f"no embedding pickles in {folder} (expected {names})")
    if not present:
        logger.info("No embedding pickles in %s: writing interactions only.", folder)
        return {}
    for side, (profile, intent) in wanted.items():
        have = [p for p in (profile, intent) if p.is_file()]
        if len(have) == 1:
            lacking = intent if have[0] == profile else profile
            raise RLMRecInputError(
                f"{have[0]} is present but {lacking} is missing: IRLLRec needs both the profile and the "
                f"intent vectors of every {side}"
            )
    lacking = [str(p) for pair in wanted.values() for p in pair if not p.is_file()]
    if lacking:
        raise RLMRecInputError(
            f"embedding pickles are incomplete in {folder}: missing {', '.join(lacking)} "
            "(give all four files or none)"
        )
    return wanted


def _load_splits(paths: dict[str, Path]) -> tuple[tuple[int, int], dict[str, Interactions]]:
    """Read the three matrices, check they share one shape, return their non-zero pairs."""
    import scipy.sparse as sp

    matrices = {}
    for split, path in paths.items():
        matrix = load_pickle(path)
        if not sp.issparse(matrix) or matrix.ndim != 2:
            raise RLMRecInputError(f"{path}: expected a 2-D scipy.sparse matrix, got {type(matrix).__name__}")
        matrices[split] = matrix
    shapes = {split: tuple(int(n) for n in m.shape) for split, m in matrices.items()}
    if len(set(shapes.values())) != 1:
        listed = ", ".join(f"{paths[s].name} {shapes[s][0]}x{shapes[s][1]}" for s in SPLIT_NAMES)
        raise RLMRecInputError(f"the split matrices in {paths['train'].parent} differ in shape: {listed}")
    splits = {}
    for split, matrix in matrices.items():
        coo = matrix.tocoo(copy=True)
        coo.sum_duplicates()  # also sorts by (row, col)
        coo.eliminate_zeros()  # a stored 0 is not an interaction
        splits[split] = Interactions(coo.row.astype(np.int64), coo.col.astype(np.int64))
    return shapes["train"], splits


def _load_side(side: str, paths: tuple[Path, Path], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows = shape[0] if side == "user" else shape[1]
    axis = "rows (users)" if side == "user" else "columns (items)"
    vectors = []
    for path in paths:
        array = load_pickle(path)
        if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype.kind not in "fiu":
            kind = f"{array.dtype} array of shape {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
            raise RLMRecInputError(f"{path}: expected a 2-D numeric numpy array, got {kind}")
        if array.shape[0] != rows:
            raise RLMRecInputError(
                f"{path}: shape {array.shape[0]}x{array.shape[1]} does not match the interaction matrices "
                f"({shape[0]}x{shape[1]}): one row per {side} means {rows} rows (the matrices' {axis})"
            )
        with np.errstate(over="ignore"):
            # RecBole reads the written values as float32: 1e39 passes a float64 check and ends as inf.
            finite = np.isfinite(array.astype(np.float32)).all(axis=1)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise RLMRecInputError(f"{path}: row {row} ({side} {row}) holds NaN or values that are not finite "
                                   "in float32 (beyond +-3.4e38)")
        vectors.append(array)
    return vectors[0], vectors[1]


def _check_widths(features: dict[str, tuple[np.ndarray, np.ndarray]], paths: dict[str, tuple[Path, Path]]) -> None:
    """One tower serves users and items, so their profile (and intent) widths must agree."""
    if not features:
        return
    for k, kind in enumerate(("profile", "intent")):
        user_w, item_w = features["user"][k].shape[1], features["item"][k].shape[1]
        if user_w != item_w:
            raise RLMRecInputError(
                f"{kind} widths differ: {paths['user'][k]} is {user_w}-d, {paths['item'][k]} is {item_w}-d"
            )


def _write(
    folder: Path, name: str, splits: dict[str, Interactions], features: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, object]:
    counts = {}
    for split in SPLIT_NAMES:
        pairs = splits[split]
        rows = zip(pairs.users.astype(str).tolist(), pairs.items.astype(str).tolist())
        counts[split] = write_atomic(folder / f"{name}.{split}.inter", INTER_HEADER, rows)
    users = np.unique(np.concatenate([s.users for s in splits.values()]))
    items = np.unique(np.concatenate([s.items for s in splits.values()]))
    stats: dict[str, object] = {"interactions": counts, "users": int(len(users)), "items": int(len(items))}
    if not features:
        return stats
    for side, suffix, ids in (("user", USER_SUFFIX, users), ("item", ITEM_SUFFIX, items)):
        profile, intent = features[side]
        skipped = len(profile) - len(ids)
        if skipped:
            logger.warning("%d %ss have vectors but no interaction in any split; their rows are left out.",
                           skipped, side)
        write_feature_file(folder / f"{name}.{suffix}", suffix, ids.astype(str).tolist(), profile[ids], intent[ids])
        stats[f"{side}s_without_interactions"] = int(skipped)
    stats["profile_dim"] = int(features["user"][0].shape[1])
    stats["intent_dim"] = int(features["user"][1].shape[1])
    return stats
