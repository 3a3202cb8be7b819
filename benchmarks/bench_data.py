"""Datasets of the benchmark scripts, built once into a cache folder outside the repository.

- ``amazon-book``: the published RLMRec/IRLLRec split
  (``<shared>/data/rlmrec-splits/amazon/{trn,val,tst}_mat.pkl``, found next to the
  repository: ``Path(__file__).resolve().parents[1].parent / "shared" / "data"``),
  converted by dataset_prep's convert-rlmrec into ``<data_dir>/amazon-book/``, plus
  stand-in text vectors (``benchmarks/standin.py``) made from its train matrix.
- ``amazon-book-<n>``: the same split reduced to its first ``n`` users (rows
  0..n-1 of all three matrices); items without a training interaction among them
  are dropped (their valid/test interactions too) and the item columns renumbered
  in their original order. The reduced matrices are pickled into
  ``<data_dir>/src/amazon-book-<n>/`` and converted the same way, with stand-in
  vectors made from the reduced train matrix.
- ``synth-<n>``: a synthetic power-law user-item graph for the scaling series
  (:func:`synthetic_graph`), written as ``.inter`` files only; the text vectors are
  handed to the model by :func:`patch_standin_weights`.

The stand-in files go into the converted folder next to its ``manifest.json``;
should convert-rlmrec ever rebuild that folder (its sources changed), the
stand-ins go with it and are made again on the next call (``standin.json``).
"""
from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_prep.rlmrec import SPLIT_FILES, convert_rlmrec  # noqa: E402
from dataset_prep.safe_pickle import load_pickle  # noqa: E402
from recbole_irllrec.atomic_io import atomic_open, atomic_write_bytes  # noqa: E402
from standin import binary_matrix, standin_vectors, write_standin_features  # noqa: E402
from standin import INTENT_DIM, INTENT_SEED, PROFILE_DIM, PROFILE_SEED  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
AMAZON_SRC = SHARED_DATA / "rlmrec-splits" / "amazon"
AMAZON = "amazon-book"
DEFAULT_DATA_DIR = Path.home() / ".cache" / "recbole_irllrec" / "bench"


def amazon_name(first_users: int | None) -> str:
    return AMAZON if not first_users else f"{AMAZON}-{first_users}"


def reduced_users(name: str) -> int | None:
    """``amazon-book-2500`` -> 2500; ``amazon-book`` -> None."""
    if name == AMAZON:
        return None
    if name.startswith(AMAZON + "-") and name[len(AMAZON) + 1:].isdigit():
        return int(name[len(AMAZON) + 1:])
    raise ValueError(f"not an Amazon-book dataset name: {name!r}")


def _reduce_split(src: Path, target: Path, first_users: int) -> dict:
    """Pickle the first ``first_users`` rows of the three matrices into ``target``
    (only items with a training interaction among them; written only when changed)."""
    matrices = {split: sp.csr_matrix(load_pickle(src / file)) for split, file in SPLIT_FILES.items()}
    n_users = matrices["train"].shape[0]
    if not 0 < first_users <= n_users:
        raise ValueError(f"first_users must be in 1..{n_users}, got {first_users}")
    train = matrices["train"][:first_users]
    train.eliminate_zeros()
    keep = np.flatnonzero(np.diff(train.tocsc().indptr) > 0)
    stats = {"users": first_users, "items": int(len(keep))}
    for split, file in SPLIT_FILES.items():
        reduced = matrices[split][:first_users][:, keep].tocoo()
        reduced.eliminate_zeros()
        stats[split] = int(reduced.nnz)
        data = pickle.dumps(reduced, protocol=4)
        path = target / file
        if not (path.is_file() and path.read_bytes() == data):
            atomic_write_bytes(path, data)
    return stats


def prepare_amazon(data_dir: str | Path = DEFAULT_DATA_DIR, first_users: int | None = None,
                   src: str | Path = AMAZON_SRC) -> dict:
    """Build (or reuse) ``<data_dir>/amazon-book[-n]`` with stand-in vectors; returns
    ``{"name", "folder", "seconds", "files": {file: bytes}, "standin": manifest}``."""
    started = time.perf_counter()
    data_dir, src = Path(data_dir), Path(src)
    name = amazon_name(first_users)
    source = src
    info: dict = {}
    if first_users:
        source = data_dir / "src" / name
        info["reduction"] = _reduce_split(src, source, first_users)
    folder = convert_rlmrec(source, name, data_root=data_dir)
    splits = [sp.coo_matrix(load_pickle(source / file)) for file in SPLIT_FILES.values()]
    for m in splits:
        m.sum_duplicates()
        m.eliminate_zeros()
    shape = splits[0].shape
    train = binary_matrix(splits[0].row, splits[0].col, shape)
    # the ids convert-rlmrec writes: every row / column with an interaction in some split
    users = np.unique(np.concatenate([m.row for m in splits]))
    items = np.unique(np.concatenate([m.col for m in splits]))
    standin = write_standin_features(folder, name, train, users, items)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
    return {"name": name, "folder": folder, "seconds": round(time.perf_counter() - started, 1),
            "files": files, "standin": standin, **info}


# ------------------------------------------------------------------ synthetic graphs
SYNTH_SEED = 2024
ACTIVITY_MEAN = 10.0  # interactions per user (log-normal mean; at least MIN_ACTIVITY)
ACTIVITY_SIGMA = 0.75
MIN_ACTIVITY = 3  # one valid, one test, at least one train
ZIPF_EXPONENT = 0.8  # item popularity ~ rank^-0.8


def synth_name(n_users: int) -> str:
    return f"synth-{n_users}"


def synthetic_graph(n_users: int, seed: int = SYNTH_SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A power-law bipartite graph as ``{"train"|"valid"|"test": (users, items)}``.

    ``n_users`` users, ``n_users // 2`` items. User activity is log-normal
    (mean ``ACTIVITY_MEAN``, sigma ``ACTIVITY_SIGMA``, at least ``MIN_ACTIVITY``,
    at most the item count); the items of a user are drawn without repetition
    with probability proportional to ``rank^-ZIPF_EXPONENT`` (ranks a fixed random
    permutation of the items). Per user, one random interaction goes to test, one
    to valid, the rest to train. Deterministic in (n_users, seed).
    """
    rng = np.random.default_rng([seed, n_users])
    n_items = max(n_users // 2, MIN_ACTIVITY + 1)
    mu = np.log(ACTIVITY_MEAN) - ACTIVITY_SIGMA**2 / 2
    activity = np.clip(np.rint(rng.lognormal(mu, ACTIVITY_SIGMA, n_users)), MIN_ACTIVITY, n_items).astype(np.int64)
    weights = np.arange(1, n_items + 1, dtype=np.float64) ** -ZIPF_EXPONENT
    popularity = np.empty(n_items)
    popularity[rng.permutation(n_items)] = weights / weights.sum()
    cdf = np.cumsum(popularity)

    def draw(count: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right"), n_items - 1)

    users = np.repeat(np.arange(n_users), activity)
    pairs = np.unique(users * n_items + draw(len(users)))  # repeated (user, item) draws count once
    # top up the users that lost draws to repeats (a few per cent), in rounds
    for _ in range(1000):
        missing = activity - np.bincount(pairs // n_items, minlength=n_users)
        if not missing.any():
            break
        extra_users = np.repeat(np.arange(n_users), missing)
        pairs = np.union1d(pairs, extra_users * n_items + draw(len(extra_users)))
    else:
        raise RuntimeError("could not draw distinct items for every user")
    users, items = pairs // n_items, pairs % n_items
    # split: random order within each user; last -> test, second last -> valid
    order = np.lexsort((rng.random(len(users)), users))
    users, items = users[order], items[order]
    starts = np.searchsorted(users, np.arange(n_users))
    position = np.arange(len(users)) - starts[users]
    from_end = activity[users] - 1 - position
    return {
        "train": (users[from_end >= 2], items[from_end >= 2]),
        "valid": (users[from_end == 1], items[from_end == 1]),
        "test": (users[from_end == 0], items[from_end == 0]),
    }


def prepare_synthetic(data_dir: str | Path, n_users: int) -> Path:
    """Write (or reuse) ``<data_dir>/synth/synth-<n>/`` with ``.{train,valid,test}.inter``
    (raw ids are the indices as strings) and ``train_pairs.npz``; returns the folder."""
    name = synth_name(n_users)
    folder = Path(data_dir) / "synth" / name
    pairs_file = folder / "train_pairs.npz"
    if pairs_file.is_file() and all((folder / f"{name}.{s}.inter").is_file() for s in ("train", "valid", "test")):
        return folder
    graph = synthetic_graph(n_users)
    for split, (users, items) in graph.items():
        with atomic_open(folder / f"{name}.{split}.inter", "w") as handle:
            handle.write("user_id:token\titem_id:token\n")
            handle.write("".join(f"{u}\t{i}\n" for u, i in zip(users.tolist(), items.tolist())))
    users, items = graph["train"]
    n_items = max(n_users // 2, MIN_ACTIVITY + 1)
    with atomic_open(pairs_file, "wb") as handle:  # written last: marks the folder complete
        np.savez(handle, users=users, items=items, shape=np.array([n_users, n_items]))
    return folder


def synthetic_settings(data_dir: str | Path) -> dict:
    """Config keys of a ``synth-<n>`` dataset: interactions only, the fixed split."""
    return {
        "data_path": str(Path(data_dir) / "synth"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        # no text files: properties/dataset/_default.yaml's text keys off (the vectors are patched in)
        "additional_feat_suffix": None,
        "alias_of_user_id": None,
        "alias_of_item_id": None,
        "preload_weight": None,
        "field_separator": "\t",
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
    }


# the model-facing text interface: preload_weight id field -> (side, width, seed)
STANDIN_FIELDS = {
    "uid_profile": ("user", PROFILE_DIM, PROFILE_SEED),
    "uid_intent": ("user", INTENT_DIM, INTENT_SEED),
    "iid_profile": ("item", PROFILE_DIM, PROFILE_SEED),
    "iid_intent": ("item", INTENT_DIM, INTENT_SEED),
}
STANDIN_PRELOAD = {
    "uid_profile": "user_profile",
    "uid_intent": "user_intent",
    "iid_profile": "item_profile",
    "iid_intent": "item_intent",
}


def patch_standin_weights(config, dataset, folder: Path) -> None:
    """Give ``dataset`` stand-in text vectors without any feature file: sets
    ``config['preload_weight']`` (read by the model) and replaces the dataset
    object's ``get_preload_weight`` (the only call the model makes for text,
    through ``recbole_irllrec.data.text_features.load_text_matrices``).

    Each call computes one matrix from ``train_pairs.npz`` (raw index space) and
    returns float32 [n_ids, width], row 0 zeros, row k the vector of internal id k
    (raw token ``dataset.id2token(field, k)``); nothing is cached, so after the
    model has copied its buffers only its own copy stays in memory.
    """
    with np.load(folder / "train_pairs.npz") as npz:
        users, items, shape = npz["users"], npz["items"], tuple(int(n) for n in npz["shape"])
    train = binary_matrix(users, items, shape)

    def get_preload_weight(field):
        if field not in STANDIN_FIELDS:
            raise ValueError(f"Field [{field}] not in preload_weight")
        side, width, seed = STANDIN_FIELDS[field]
        id_field = dataset.uid_field if side == "user" else dataset.iid_field
        tokens = dataset.field2id_token[id_field]
        raw = np.asarray(tokens[1:]).astype(np.int64)  # internal id k >= 1 -> raw index
        vectors = standin_vectors(train, side, width, seed)
        matrix = np.zeros((len(tokens), width), dtype=np.float32)
        matrix[1:] = vectors[raw]
        return matrix

    config["preload_weight"] = dict(STANDIN_PRELOAD)
    dataset.get_preload_weight = get_preload_weight


def write_ml100k_slice(data_dir: str | Path, name: str = "ml-slice", n_items: int = 20, n_users: int = 12,
                       seed: int = 2020) -> Path:
    """A small fixed-split dataset from RecBole's bundled ml-100k: its ``n_items`` most rated
    items and the ``n_users`` lowest-id users with 5 to ``n_items - 1`` ratings among them, split per user
    80/10/10 (dataset_prep's rule), with their ``.item`` / ``.user`` rows; no text, no vectors.
    Written to ``<data_dir>/<name>/`` (replaced if present); returns that folder."""
    import shutil

    import pandas as pd

    from dataset_prep.movielens import ml100k_source_dir
    from dataset_prep.split import SPLIT_NAMES, split_by_user

    source = ml100k_source_dir()
    read = dict(sep="\t", dtype=str, keep_default_na=False)
    inter = pd.read_csv(source / "ml-100k.inter", **read)
    items = inter["item_id:token"].value_counts().index[:n_items]
    inter = inter[inter["item_id:token"].isin(items)]
    counts = inter["user_id:token"].value_counts()
    # at least 5 ratings to split, and an unrated item left for RecBole's negative sampling
    users = sorted((u for u in counts.index if 5 <= counts[u] < n_items), key=int)[:n_users]
    inter = inter[inter["user_id:token"].isin(users)]
    folder = Path(data_dir) / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    parts = split_by_user(inter["user_id:token"].tolist(), (0.8, 0.1, 0.1), seed)
    for code, split in enumerate(SPLIT_NAMES):
        inter[parts == code].to_csv(folder / f"{name}.{split}.inter", sep="\t", index=False)
    for side, ids in (("item", set(inter["item_id:token"])), ("user", set(users))):
        table = pd.read_csv(source / f"ml-100k.{side}", **read)
        table[table[f"{side}_id:token"].isin(ids)].to_csv(folder / f"{name}.{side}", sep="\t", index=False)
    return folder
