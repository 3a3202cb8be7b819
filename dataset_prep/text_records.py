"""The readable text of one user or item, and its JSON-lines file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_open
from .errors import InputError
from .recbole_io import sort_ids


class TextFileError(InputError):
    """A line of a texts file is not a text record; the message names file and line."""


@dataclass(frozen=True)
class TextRecord:
    """Profile and intent text of one user or item.

    ``evidence`` lists the raw item ids whose (training) interactions the
    writer looked at, so leakage can be audited from the file alone.
    """

    id: str
    profile: str
    intent: str
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """One JSON line (without the newline)."""
        payload = {"id": self.id, "profile": self.profile, "intent": self.intent, "evidence": list(self.evidence)}
        return json.dumps(payload, ensure_ascii=False)


def sorted_by_id(records: Iterable[TextRecord]) -> list[TextRecord]:
    """Records in :func:`~dataset_prep.recbole_io.sort_ids` order of their ids (numeric when all are)."""
    records = list(records)
    order = {i: k for k, i in enumerate(sort_ids(r.id for r in records))}
    return sorted(records, key=lambda r: order[r.id])


def write_text_records(path: str | Path, records: Iterable[TextRecord]) -> int:
    """Atomically write records as JSON lines; returns the number written."""
    count = 0
    with atomic_open(path, "w") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
            count += 1
    return count


def record_id(value: object) -> str:
    """The id of a JSON record as a string; ValueError for null, floats, lists (``null`` is not the id "None")."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"id must be a string, got {json.dumps(value)}")


def read_text_records(path: str | Path) -> list[TextRecord]:
    """Read a file written by :func:`write_text_records`; :class:`TextFileError` names file and line
    (physical lines: blank lines are skipped but counted)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TextFileError(f"{where}: not a JSON object ({exc.msg})") from None
            if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("profile", "intent")):
                raise TextFileError(f"{where}: expected an object with id, profile and intent")
            try:
                raw_id = record_id(obj.get("id"))
            except ValueError as exc:
                raise TextFileError(f"{where}: {exc}") from None
            evidence = tuple(str(e) for e in obj.get("evidence") or ())
            records.append(TextRecord(raw_id, obj["profile"], obj["intent"], evidence))
    return records
