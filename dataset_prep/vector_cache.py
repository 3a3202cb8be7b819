"""Append-only cache of text embeddings, so that an interrupted run resumes.

One JSON object per line::

    {"m": "<embedder name>", "h": "<sha256 of the text>", "d": 384, "v": "<base64 float32 LE>"}

A vector is keyed by the embedder name and the sha256 of the text; the text
itself is not stored. Each batch is appended, flushed and fsynced before
:meth:`VectorCache.add` returns, so a killed run loses at most the batch in
flight. A kill in the middle of a write leaves a partial last line: it is
dropped with a warning (and cut off the file) when the cache is opened.
Unreadable lines elsewhere are skipped with a warning; a later entry for
the same key wins.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def text_sha(text: str) -> str:
    """sha256 hex digest of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_vector(vector: np.ndarray) -> str:
    """float32 little-endian bytes as base64 (exact, and about 3x shorter than decimal text)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(payload: str, dim: int) -> np.ndarray:
    """Inverse of :func:`encode_vector`; raises ValueError unless exactly ``dim`` finite values come back."""
    raw = base64.b64decode(payload.encode("ascii"), validate=True)
    if len(raw) != 4 * dim:
        raise ValueError(f"expected {dim} float32 values, found {len(raw)} bytes")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        raise ValueError("holds NaN or infinite values")
    return vector


class VectorCache:
    """Vectors by ``(embedder name, text)``, backed by an append-only JSON-lines file.

    ``path`` None keeps the cache in memory only. ``names`` limits which
    embedders' entries are loaded (all when None): a shared cache file may
    hold vectors of models this run does not use.
    """

    def __init__(self, path: str | Path | None, names: Iterable[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._names = set(names) if names is not None else None
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self.skipped_lines = 0
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, name: str, text: str) -> np.ndarray | None:
        """The cached vector of ``text`` under embedder ``name``, or None."""
        return self._vectors.get((name, text_sha(text)))

    def missing(self, name: str, texts: Iterable[str]) -> list[str]:
        """The texts (in order) that have no vector under ``name`` yet."""
        return [t for t in texts if (name, text_sha(t)) not in self._vectors]

    def add(self, name: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch; with a file, append it and make it durable before returning."""
        with np.errstate(over="ignore"):
            vectors = np.asarray(vectors, dtype=np.float32)
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        if not np.isfinite(vectors).all():
            raise ValueError(f"vectors for the cache of {name!r} are not finite in float32")
        lines = []
        for text, vector in zip(texts, vectors):
            sha = text_sha(text)
            self._vectors[(name, sha)] = vector
            entry = {"m": name, "h": sha, "d": int(vector.shape[0]), "v": encode_vector(vector)}
            lines.append(json.dumps(entry, separators=(",", ":")) + "\n")
        if self.path is None or not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())

    def _load(self, path: Path) -> None:
        data = path.read_bytes()
        good_end = 0  # byte offset just past the last complete line
        for number, raw in enumerate(data.splitlines(keepends=True), start=1):
            if not raw.endswith(b"\n"):
                # Every entry is written with its newline, so this one was cut short by a kill.
                logger.warning("%s: line %d was cut off by an interrupted run; dropping it.", path, number)
                self.skipped_lines += 1
                break
            good_end += len(raw)
            if not raw.strip():
                continue
            try:
                self._parse(raw)
            except ValueError as exc:
                self.skipped_lines += 1
                logger.warning("%s: skipping unreadable line %d (%s).", path, number, exc)
        if good_end < len(data):
            # Cut the torn tail now, so that the next append starts on a fresh line.
            with open(path, "r+b") as handle:
                handle.truncate(good_end)

    def _parse(self, raw: bytes) -> None:
        try:
            obj = json.loads(raw)
            name, sha, dim, payload = obj["m"], obj["h"], int(obj["d"]), obj["v"]
        except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ValueError(f"not a cache entry: {type(exc).__name__}") from None
        if not (isinstance(name, str) and isinstance(sha, str) and len(sha) == 64 and isinstance(payload, str)):
            raise ValueError("bad key or payload")
        if self._names is not None and name not in self._names:
            return
        try:
            vector = decode_vector(payload, dim)
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"bad vector: {exc}") from None
        self._vectors[(name, sha)] = vector
