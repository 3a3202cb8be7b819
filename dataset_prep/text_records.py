"""The readable text of one user or item, and its JSON-lines file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_open
from .recbole_io import sort_ids


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


def read_text_records(path: str | Path) -> list[TextRecord]:
    """Read a file written by :func:`write_text_records`."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                obj = json.loads(line)
                records.append(TextRecord(str(obj["id"]), obj["profile"], obj["intent"], tuple(obj["evidence"])))
    return records
