"""Stand-in text vectors for benchmark data that ship without text.

The published RLMRec/IRLLRec splits carry no text and their embeddings are not
reachable from here, so the benchmarks make vectors of the published widths
(1536-d "profile", 3072-d "intent") from the training matrix itself:

    v = normalise_L2( normalise_rows(X)[row] @ G )

- ``X`` is the binary train matrix; a user's row is its row of ``X``, an item's
  row is its row of ``X^T`` (so users are projected over the item dimension and
  items over the user dimension).
- ``normalise_rows`` divides each row by its number of interactions (it does not
  change the direction of ``v``, which the final L2 normalisation keeps alone).
- ``G`` is a fixed Gaussian matrix per (width, seed, side): ``seed`` 0 for the
  profile vectors, 1 for the intent vectors; side 0 (users, ``G`` has one row per
  item) and 1 (items, one row per user): the generator is
  ``numpy.random.default_rng([seed, side])``, drawn in float32 blocks of
  ``BLOCK_ROWS`` rows of ``G`` in order (the block size is part of the
  definition: changing it changes the vectors).
- A row without any training interaction (possible only in the synthetic
  scaling graphs, where an item may occur only in valid/test) gets a Gaussian
  vector from ``default_rng([seed, side, 1])``, drawn in row order, before the
  normalisation: RecBole's zero row would read as "no vector" to the plugin.

So similar histories give similar vectors (a random projection keeps cosine
similarities approximately), which is all a speed or plumbing benchmark needs;
the vectors say nothing about text.

:func:`write_standin_features` writes them as ``<name>.useremb`` /
``<name>.itememb`` in the layout of
``recbole_irllrec.data.text_features.FILE_LAYOUT`` (fixed-point decimals,
``DECIMALS`` places, formatted with vectorised numpy, each file written through
``recbole_irllrec.atomic_io``), with ``standin.json`` recording what was written;
a second call with the same inputs reuses the files.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recbole_irllrec.atomic_io import atomic_open, atomic_write_json
from recbole_irllrec.data.text_features import FILE_LAYOUT, ITEM_SUFFIX, USER_SUFFIX

PROFILE_DIM, PROFILE_SEED = 1536, 0
INTENT_DIM, INTENT_SEED = 3072, 1
SIDES = {"user": 0, "item": 1}
BLOCK_ROWS = 4096  # rows of G drawn per block (part of the vectors' definition)
DECIMALS = 7  # fixed-point decimals of the written values (|error| <= 5e-8)
WRITE_ROWS = 512  # rows formatted per chunk while writing
MANIFEST = "standin.json"
FORMAT = 1


def binary_matrix(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The 0/1 user x item matrix of the pairs (duplicates count once)."""
    data = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((data, (np.asarray(users), np.asarray(items))), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def standin_vectors(train: sp.spmatrix, side: str, width: int, seed: int) -> np.ndarray:
    """float32 [rows, width] stand-in vectors of one side (see the module docstring);
    row r belongs to row r (``side='user'``) or column r (``'item'``) of ``train``."""
    x = sp.csr_matrix(train, dtype=np.float32)
    x.data[:] = 1.0
    if side == "item":
        x = x.T.tocsr()
    elif side != "user":
        raise ValueError(f"side must be 'user' or 'item', got {side!r}")
    counts = np.diff(x.indptr)
    x = sp.diags(1.0 / np.maximum(counts, 1).astype(np.float32)) @ x
    x = x.tocsc()
    rng = np.random.default_rng([seed, SIDES[side]])
    out = np.zeros((x.shape[0], width), dtype=np.float32)
    for start in range(0, x.shape[1], BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, x.shape[1])
        g = rng.standard_normal((stop - start, width), dtype=np.float32)
        out += np.asarray(x[:, start:stop] @ g, dtype=np.float32)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        out[empty] = np.random.default_rng([seed, SIDES[side], 1]).standard_normal((len(empty), width), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def side_vectors(train: sp.spmatrix, side: str) -> tuple[np.ndarray, np.ndarray]:
    """``(profile, intent)`` stand-ins of one side at the published widths."""
    return (
        standin_vectors(train, side, PROFILE_DIM, PROFILE_SEED),
        standin_vectors(train, side, INTENT_DIM, INTENT_SEED),
    )


# ------------------------------------------------------------------ writing
def format_rows(values: np.ndarray, decimals: int = DECIMALS) -> list[bytes]:
    """Each row as space-separated fixed-point decimals (``-0.0123457 0.5000000``),
    vectorised: one uint8 cell per value, then the '+' placeholders removed."""
    values = np.asarray(values)
    scale = 10**decimals
    q = np.rint(np.abs(values).astype(np.float64) * scale).astype(np.int64)
    whole, frac = np.divmod(q, scale)
    if whole.size and whole.max() > 9:
        raise ValueError("format_rows handles |value| < 10 only")
    rows, width = values.shape
    cell = decimals + 4  # sign, one digit, '.', decimals, separator
    buf = np.empty((rows, width, cell), dtype=np.uint8)
    buf[..., 0] = np.where((values < 0) & (q > 0), ord("-"), ord("+"))
    buf[..., 1] = ord("0") + whole
    buf[..., 2] = ord(".")
    for k in range(decimals - 1, -1, -1):
        frac, digit = np.divmod(frac, 10)
        buf[..., 3 + k] = ord("0") + digit
    buf[..., -1] = ord(" ")
    flat = buf.reshape(rows, width * cell)[:, :-1]
    return [row.tobytes().replace(b"+", b"") for row in flat]


def write_feature_file(path: Path, suffix: str, ids: Sequence[str], profile: np.ndarray, intent: np.ndarray) -> int:
    """One ``.useremb`` / ``.itememb`` file (header of FILE_LAYOUT; the id twice,
    then both vectors), written atomically; returns its size in bytes."""
    if not (len(ids) == len(profile) == len(intent)):
        raise ValueError(f"{len(ids)} ids but {len(profile)} profile and {len(intent)} intent rows")
    (id_p, val_p), (id_i, val_i) = FILE_LAYOUT[suffix]
    header = f"{id_p}:token\t{id_i}:token\t{val_p}:float_seq\t{val_i}:float_seq\n".encode()
    with atomic_open(path, "wb") as handle:
        handle.write(header)
        for start in range(0, len(ids), WRITE_ROWS):
            stop = min(start + WRITE_ROWS, len(ids))
            prof, inten = format_rows(profile[start:stop]), format_rows(intent[start:stop])
            lines = []
            for raw, p, i in zip(ids[start:stop], prof, inten):
                token = str(raw).encode()
                lines.append(b"%s\t%s\t%s\t%s\n" % (token, token, p, i))
            handle.write(b"".join(lines))
    return path.stat().st_size


def matrix_fingerprint(matrix: sp.spmatrix) -> str:
    """sha256 of a sparse matrix's shape and non-zero pattern."""
    csr = sp.csr_matrix(matrix)
    csr.sum_duplicates()
    digest = hashlib.sha256(np.asarray(csr.shape, dtype=np.int64).tobytes())
    digest.update(csr.indptr.astype(np.int64).tobytes())
    digest.update(csr.indices.astype(np.int64).tobytes())
    return digest.hexdigest()


def write_standin_features(folder: str | Path, name: str, train: sp.spmatrix, user_rows: np.ndarray,
                           item_rows: np.ndarray) -> dict:
    """Write (or reuse) ``<folder>/<name>.useremb`` and ``.itememb``.

    ``user_rows`` / ``item_rows``: the matrix indices to write (their raw ids are
    the indices as strings, as dataset_prep's convert-rlmrec writes them).
    Returns the manifest (file sizes, seconds, ``reused``).
    """
    folder = Path(folder)
    params = {
        "format": FORMAT,
        "name": name,
        "train": matrix_fingerprint(train),
        "users": hashlib.sha256(np.asarray(user_rows, dtype=np.int64).tobytes()).hexdigest(),
        "items": hashlib.sha256(np.asarray(item_rows, dtype=np.int64).tobytes()).hexdigest(),
        "widths": {"profile": [PROFILE_DIM, PROFILE_SEED], "intent": [INTENT_DIM, INTENT_SEED]},
        "block_rows": BLOCK_ROWS,
        "decimals": DECIMALS,
    }
    files = {suffix: folder / f"{name}.{suffix}" for suffix in (USER_SUFFIX, ITEM_SUFFIX)}
    try:
        old = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        old = None
    if old and old.get("params") == params and all(
        path.is_file() and path.stat().st_size == old["sizes"].get(path.name) for path in files.values()
    ):
        return {**old, "reused": True}

    started = time.perf_counter()
    sizes = {}
    for side, suffix, rows in (("user", USER_SUFFIX, user_rows), ("item", ITEM_SUFFIX, item_rows)):
        profile, intent = side_vectors(train, side)
        rows = np.asarray(rows, dtype=np.int64)
        ids = rows.astype(str).tolist()
        sizes[files[suffix].name] = write_feature_file(files[suffix], suffix, ids, profile[rows], intent[rows])
        del profile, intent
    manifest = {"params": params, "sizes": sizes, "seconds": round(time.perf_counter() - started, 1)}
    atomic_write_json(folder / MANIFEST, manifest)
    return {**manifest, "reused": False}
