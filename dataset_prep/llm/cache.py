"""Append-only JSON-lines cache of LLM answers.

One line per finished request, flushed and fsynced as soon as the answer
arrives, so a killed run loses at most the answers still in flight. The
key is a hash of (backend, model, generation settings, prompt hash). Both
good answers and failures are recorded (failures for the audit trail), but
only good answers are served back: a re-run retries exactly the failures.

A run killed in the middle of a write leaves a partial last line; it is
skipped with a warning and cut off before the next append.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from .backend import ChatBackend, ChatRequest

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"


class CacheFileError(InputError):
    """A line of the cache file is not a record (edited by hand or written by something else)."""


def cache_key(backend: ChatBackend, request: ChatRequest) -> str:
    """Identity of an answer: who answered, with which settings, to which exact prompt."""
    identity = {
        "backend": backend.name,
        "model": backend.model,
        "settings": backend.settings(),
        "prompt": request.prompt_sha(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


class AnswerCache:
    """Good answers by key, loaded from ``path`` at start; :meth:`append` adds one line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._answers: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.failed_before = 0
        self.added = 0  # good answers appended by this process
        self._load()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached good answer for ``key`` (the whole record), or None."""
        return self._answers.get(key)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (must carry ``key`` and ``status``) and make it durable."""
        line = json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, ensure_ascii=False) + "\n"
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            if record["status"] == OK:
                self._answers[record["key"]] = record
                self.added += 1

    def _load(self) -> None:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return
        data = self.path.read_bytes()
        good_end = 0  # byte offset after the last complete, valid line
        for number, raw in enumerate(data.splitlines(keepends=True), start=1):
            if not raw.endswith(b"\n"):
                logger.warning("%s: line %d was cut off by an interrupted run; dropping it.", self.path, number)
                break
            good_end += len(raw)
            if not raw.strip():
                continue  # blank lines are harmless (and still counted as lines)
            try:
                record = json.loads(raw)
                key, status = record["key"], record["status"]
            except (ValueError, KeyError, TypeError) as exc:
                raise CacheFileError(
                    f"{self.path}:{number}: not a cache record ({type(exc).__name__}: {exc}); "
                    "delete the line or the file"
                ) from None
            if status == OK:
                self._answers[key] = record
            else:
                self.failed_before += 1
        if good_end < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(good_end)
