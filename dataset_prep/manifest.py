"""Build manifest: decides whether a prepared folder can be reused.

The manifest stores the build parameters (seed, ratios, writer, embedder and
a fingerprint of every source file) next to the list of produced files with
their size and sha256. A folder is reused only if its parameters are
identical and every listed file is still there with the recorded size and
content hash (a same-size edit is caught too; hashing a prepared folder
takes well under a second).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 3  # 2: the folder also carries .item/.user; 3: outputs are hashed


def fingerprint(path: str | Path) -> dict[str, Any]:
    """Size and sha256 of a file (sources are a few MB, hashing is cheap)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"size": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def build_params(
    *,
    dataset: str,
    seed: int,
    ratios: Iterable[float],
    writer: Mapping[str, str],
    embedder: str,
    sources: Iterable[Path],
) -> dict[str, Any]:
    """Everything that influences the folder's content, in JSON-comparable form."""
    return {
        "format": MANIFEST_FORMAT,
        "dataset": dataset,
        "seed": int(seed),
        "ratios": [float(r) for r in ratios],
        "writer": dict(writer),
        "embedder": embedder,
        "sources": {Path(p).name: fingerprint(p) for p in sorted(sources)},
    }


def write_manifest(folder: Path, params: Mapping[str, Any], outputs: Iterable[str], stats: Mapping[str, Any]) -> None:
    """Write the manifest last, after every listed output exists in ``folder``."""
    manifest = {
        "params": dict(params),
        "outputs": {name: fingerprint(folder / name) for name in sorted(outputs)},
        "stats": dict(stats),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_json(folder / MANIFEST_NAME, manifest)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None if missing or unreadable."""
    try:
        with open(folder / MANIFEST_NAME, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def reusable(folder: Path, params: Mapping[str, Any]) -> bool:
    """True when ``folder`` was built with ``params`` and still holds all its outputs."""
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    if manifest.get("params") != json.loads(json.dumps(params)):
        logger.info("Build parameters of %s changed; rebuilding.", folder)
        return False
    for name, info in manifest.get("outputs", {}).items():
        path = folder / name
        # Size first: a cheap answer for most edits; the hash catches same-size ones.
        if not path.is_file() or path.stat().st_size != info.get("size") or fingerprint(path) != info:
            logger.info("%s is missing or changed; rebuilding.", path)
            return False
    return True


def keeps_added_files(manifest: Mapping[str, Any] | None) -> bool:
    """Whether the builder of a folder with this manifest keeps files it did not
    write: ``convert-rlmrec`` (a ``converter`` in its parameters) rebuilds only
    when run again, and carries such files into the rebuilt folder."""
    params = manifest.get("params") if isinstance(manifest, Mapping) else None
    return isinstance(params, Mapping) and "converter" in params


def managed_folder_message(folder: str | Path, what: str) -> str | None:
    """Why ``what`` must not be written into ``folder``, or None when it may.

    A folder built by ``python -m dataset_prep ml-100k`` is rebuilt as a whole once
    its files change, which would silently discard files written into it by hand.
    One converted by ``convert-rlmrec`` keeps them (:func:`keeps_added_files`).
    """
    manifest_path = Path(folder) / MANIFEST_NAME
    if manifest_path.exists() and not keeps_added_files(read_manifest(Path(folder))):
        return (
            f"{folder} is managed by dataset_prep ({MANIFEST_NAME}) and rebuilt when its files change, "
            f"which would discard {what}; use a dataset folder of your own"
        )
    return None

