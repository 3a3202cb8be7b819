"""Readable profile and intent texts of users and items, by raw id.

The files are ``<data_path>/<dataset>.{user,item}.texts.jsonl`` as
``dataset_prep`` writes them (``dataset_prep.text_records``); this package may
not import ``dataset_prep``, so the few lines of reading live here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


def texts_path(config, side: str) -> str:
    """Path of the texts file of ``side`` ("user" or "item") for this config's dataset."""
    return os.path.join(config["data_path"], f"{config['dataset']}.{side}.texts.jsonl")


@dataclass
class Texts:
    """The texts of one side, or none (``records`` empty, ``missing`` the reason)."""

    path: str
    records: dict[str, dict] = field(default_factory=dict)
    missing: str | None = None

    def get(self, raw_id: str, key: str) -> str:
        """The ``key`` text ("intent", "profile") of ``raw_id``, or why there is none."""
        if self.missing:
            return self.missing
        record = self.records.get(str(raw_id))
        if record is None:
            return f"(id {raw_id} not in {self.path})"
        return str(record.get(key, f"(no {key} for id {raw_id})"))


def load_texts(config, side: str) -> Texts:
    """Read the ``side`` texts file; a missing file gives an empty :class:`Texts`
    whose lookups say "(no text file <path>)"."""
    path = texts_path(config, side)
    if not os.path.isfile(path):
        return Texts(path, missing=f"(no text file {path})")
    records = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                records[str(obj["id"])] = obj
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}, line {number}: not a text record with an 'id' ({error})") from None
    return Texts(path, records)


TITLE_COLUMNS = ("movie_title", "title", "name", "item_name")


def item_titles(config) -> dict[str, str]:
    """Raw item id -> title from ``<data_path>/<dataset>.item`` when that atomic
    file has a title-like column (ml-100k: ``movie_title``); else empty. Read
    directly, since the model's ``load_col`` usually leaves the file out."""
    path = os.path.join(config["data_path"], f"{config['dataset']}.item")
    if not os.path.isfile(path):
        return {}
    item_field = config["ITEM_ID_FIELD"]
    with open(path, encoding="utf-8") as handle:
        header = [c.split(":")[0] for c in handle.readline().rstrip("\n").split("\t")]
        if item_field not in header:
            return {}
        title = next((header.index(c) for c in TITLE_COLUMNS if c in header), None)
        if title is None:
            return {}
        key = header.index(item_field)
        titles = {}
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) > max(key, title):
                titles[cells[key]] = cells[title]
    return titles
