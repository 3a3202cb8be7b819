"""Crash-safe writing of single files: a temporary sibling, fsynced, then
``os.replace`` over the target, so readers see the old file or the new one,
never a partial one. dataset_prep builds its folder staging on this.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Callable


def _read_umask() -> int:
    # Reading the umask means setting it; do it once at import, before any worker threads exist.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


@contextlib.contextmanager
def _staged(target: Path, mode: str, encoding: str | None) -> Iterator[tuple[IO[Any], str]]:
    """A fsynced temporary sibling of ``target`` (hidden: ``ls`` and globs skip
    it); removed again if the block raises (KeyboardInterrupt included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if mode == "wb":
            handle = os.fdopen(fd, mode)
        else:
            # newline="" keeps "\n" as is on every platform (RecBole splits on it).
            handle = os.fdopen(fd, mode, encoding=encoding, newline="")
        with handle:
            yield handle, tmp_name
            handle.flush()
            # fsync before the rename so a power cut cannot leave an empty file in place.
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~UMASK)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; move it over ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is
    removed and ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    target = Path(path)
    with _staged(target, mode, encoding) as (handle, tmp_name):
        yield handle
    try:
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_new(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a new binary file through ``write(handle)``, atomically, without
    ever replacing an existing one: it lands at ``path`` if that is free, else
    at ``<stem>-2<suffix>``, ``-3``, ... (claimed with a hard link, which fails
    rather than overwrite, so two processes cannot take the same name).
    Returns where it landed."""
    target = Path(path)
    with _staged(target, "wb", None) as (handle, tmp_name):
        write(handle)
    try:
        for k in range(1, 10_000):
            candidate = target if k == 1 else target.with_name(f"{target.stem}-{k}{target.suffix}")
            try:
                os.link(tmp_name, candidate)
                return candidate
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links: check, then rename
                if not candidate.exists():
                    os.replace(tmp_name, candidate)
                    return candidate
        raise FileExistsError(f"no free name next to {target}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


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
