"""Recommend to new users, and new items to users, from text alone (cold start).

A new user's (item's) profile and intent texts are embedded with the embedder
the dataset recorded (``<data_path>/manifest.json``, ``params.embedder``, as
``dataset_prep`` writes it), mapped into the CF space by the checkpoint's text
towers as its ``cold_scoring`` choice says (:mod:`recbole_irllrec.model.cold`),
and scored against every item (user) of the checkpoint, cold ones included.

From Python, ``recommend(model_file, users=[...], items=[...], embed=...)``:
``embed`` is any ``list[str] -> [n, D] float array`` function (the small
interface a service plugs its own embedder into); without it the recorded
sentence-transformers embedder is loaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from recbole_irllrec.analysis.texts import item_titles, load_texts
from recbole_irllrec.checkpoint import require_file

Embed = Callable[[list[str]], np.ndarray]
KINDS = ("profile", "intent")


@dataclass
class NewNode:
    """A user or item unknown to the model: an id of your choice and its two texts."""

    id: str
    profile: str
    intent: str


@dataclass
class Recommendation:
    """The top-k of one new node: ``(raw id, score, text)`` of items (for a new user) or users (for a new item)."""

    side: str
    node: NewNode
    top: list[tuple[str, float, str]] = field(default_factory=list)

    def to_text(self) -> str:
        other = "items" if self.side == "user" else "users"
        lines = [f"new {self.side} {self.node.id}: top {len(self.top)} {other}"]
        lines += [f"{rank:>3}. {raw} ({score:.3f})  {text}" for rank, (raw, score, text) in enumerate(self.top, 1)]
        return "\n".join(lines)


def read_new_nodes(path: str) -> dict[str, list[NewNode]]:
    """``{"users": [...], "items": [...]}`` from a JSON file whose lists hold
    objects with ``id`` and ``profile`` and/or ``intent`` (one stands for both);
    errors name the file and the entry."""
    require_file(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict) or not set(data) & {"users", "items"} or set(data) - {"users", "items"}:
        raise ValueError(f"{path}: expected an object with the keys 'users' and/or 'items'")
    nodes = {}
    for key, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"{path}: '{key}' must be a list of objects")
        nodes[key] = [new_node(entry, f"{path}: {key}[{k}]") for k, entry in enumerate(entries)]
    return nodes


def new_node(entry, where: str) -> NewNode:
    """A :class:`NewNode` from ``{"id", "profile", "intent"}`` (either text may stand for both)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), (str, int)):
        raise ValueError(f"{where}: expected an object with an 'id'")
    texts = {kind: entry.get(kind) for kind in KINDS}
    for kind, text in texts.items():
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError(f"{where}: '{kind}' must be a non-empty string")
    if texts["profile"] is None and texts["intent"] is None:
        raise ValueError(f"{where}: needs a 'profile' or an 'intent' text")
    profile = texts["profile"] or texts["intent"]
    return NewNode(str(entry["id"]), profile, texts["intent"] or profile)


def recorded_embedder(config) -> str:
    """The embedder spec ``dataset_prep`` recorded for this dataset's vectors."""
    path = os.path.join(config["data_path"], "manifest.json")
    try:
        with open(path, encoding="utf-8") as handle:
            spec = json.load(handle)["params"]["embedder"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(
            f"{path} records no embedder (params.embedder): pass the one the vectors were made with "
            "(--embedder st:PATH_OR_NAME, or embed= from Python)"
        ) from None
    return str(spec)


def _side_text(config, side: str) -> Callable[[str], str]:
    """Raw id -> a short readable text: the title (items) and the profile text."""
    texts = load_texts(config, side)
    titles = item_titles(config) if side == "item" else {}

    def text(raw: str) -> str:
        return texts.get(raw, "profile") if texts.missing is None else titles.get(raw, texts.missing)

    return text


def recommend(
    model_file: str,
    users: list[NewNode] = (),
    items: list[NewNode] = (),
    topk: int = 10,
    embed: Embed | dict[str, Embed] | None = None,
    embedder: str | None = None,
) -> list[Recommendation]:
    """Top-``topk`` items for each new user and top users for each new item of a
    checkpoint with a text tower (IRLLRec, RLMRec-Con). ``embed`` (a function, or
    one per kind: ``{"profile": f, "intent": g}``) or ``embedder`` (a spec)
    replace the dataset's recorded embedder."""
    from recbole_irllrec.quick_start import load_data_and_model
    from recbole_irllrec.text_embedder import sentence_embedder

    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    require_file(model_file)
    config, model, dataset, *_ = load_data_and_model(model_file)
    if getattr(model, "cold_scoring", None) is None:
        raise ValueError(
            f"{model_file}: {config['model']} has no text tower, so it cannot score a new user or item from text "
            "(use IRLLRec or RLMRecCon; cold_scoring)"
        )
    if model.cold_scoring.choice == "cf":
        raise ValueError(f"{model_file}: cold_scoring is cf (no text); pass --cold_scoring intent|profile|combined")
    if embed is None:
        embed = sentence_embedder(embedder or recorded_embedder(config))
    model.eval()
    user_e, item_e = model.scoring_embeddings()
    final = torch.cat([user_e, item_e])
    results = []
    for side, nodes, others, field_name in (("user", users, item_e, dataset.iid_field),
                                            ("item", items, user_e, dataset.uid_field)):
        if not nodes:
            continue
        by_kind = {}
        for kind in KINDS:
            texts = [getattr(node, kind) for node in nodes]
            vectors = torch.as_tensor(np.asarray((embed[kind] if isinstance(embed, dict) else embed)(texts), np.float32))
            if vectors.ndim != 2 or vectors.shape[0] != len(texts):
                raise ValueError(f"the {kind} embedder returned shape {tuple(vectors.shape)} for {len(texts)} texts")
            by_kind[kind] = vectors
        new = model.cold_scoring.embed_new(final, by_kind, side)
        scores = new @ others.T
        scores[:, 0] = -torch.inf  # RecBole's padding id
        top = torch.topk(scores, min(topk, scores.shape[1] - 1), dim=1)
        describe = _side_text(config, "item" if side == "user" else "user")
        for node, values, ids in zip(nodes, top.values.tolist(), top.indices.tolist()):
            raws = dataset.id2token(field_name, ids)
            results.append(Recommendation(side, node, [(str(r), v, describe(str(r))) for r, v in zip(raws, values)]))
    return results
