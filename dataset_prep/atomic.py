"""Crash-safe writing of files and whole folders.

Every file is written to a temporary sibling and moved over the target with
``os.replace``; a dataset folder is assembled in a temporary sibling folder
and renamed into place at the end. Readers therefore see either nothing, the
complete old version, or the complete new version, never a partial one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from recbole_irllrec.atomic_io import UMASK, atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "staged_directory"]

logger = logging.getLogger(__name__)

STAGING_MARK = ".build-"
RETIRED_MARK = ".old-"


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
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp creates 0700
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
