"""Crash-safe writing of files and whole folders.

Every file is written to a temporary sibling and moved over the target with
``os.replace``; a dataset folder is assembled in a temporary sibling folder
and renamed into place at the end. Readers therefore see either nothing, the
complete old version, or the complete new version, never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

STAGING_MARK = ".build-"
RETIRED_MARK = ".old-"


def _read_umask() -> int:
    # Reading the umask means setting it; do it once at import, before any worker threads exist.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; move it over ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is
    removed and ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if mode == "wb":
            handle = os.fdopen(fd, mode)
        else:
            # newline="" keeps "\n" as is on every platform (RecBole splits on it).
            handle = os.fdopen(fd, mode, encoding=encoding, newline="")
        with handle:
            yield handle
            handle.flush()
            # fsync before the rename so a power cut cannot leave an empty file in place.
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def staged_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; rename it to ``target`` on success.

    An existing ``target`` is replaced only after the new folder is complete.
    If the block raises, the temporary folder is deleted and ``target`` keeps
    its old content (or stays absent).
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    warn_about_leftovers(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING_MARK}", dir=final.parent))
    try:
        os.chmod(staging, 0o777 & ~_UMASK)  # mkdtemp creates 0700
        yield staging
        _swap_into_place(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, retiring an old ``final`` first."""
    retired: Path | None = None
    if final.exists():
        # A non-empty folder cannot be replaced in one rename: move it aside first.
        retired = final.with_name(f".{final.name}{RETIRED_MARK}{uuid.uuid4().hex[:8]}")
        os.rename(final, retired)
    try:
        os.rename(staging, final)
    except BaseException:
        if retired is not None:
            os.rename(retired, final)
        raise
    _fsync_dir(final.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder`` where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def warn_about_leftovers(target: str | Path) -> list[Path]:
    """Log (and return) temporary folders a killed run left beside ``target``.

    They are not deleted automatically: another process may be building right now.
    """
    final = Path(target)
    if not final.parent.is_dir():
        return []
    leftovers = sorted(
        p
        for p in final.parent.iterdir()
        if p.name.startswith(f".{final.name}{STAGING_MARK}") or p.name.startswith(f".{final.name}{RETIRED_MARK}")
    )
    for leftover in leftovers:
        logger.warning("Found %s from an interrupted run; delete it if no build is running.", leftover)
    return leftovers
