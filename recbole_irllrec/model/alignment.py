"""The text terms, one small module each: its config keys, its parts, its loss.

A model composes the terms it needs (``model/irllrec.py``, ``model/rlmrec.py``)
and builds a term only when its weight is non-zero. Every term reads only the
rows it needs: the batch's users and items, the user-side InfoNCE candidates
(:class:`Candidates`) and, for TA / ITM, the rows of ``align_scope``. So a
batch costs O(batch) in the text terms, unless a scope is ``all`` (the
reference's semantics, O(nodes) per batch).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch
from torch import nn

from recbole_irllrec.model.intent import IntentGraph, Prototypes
from recbole_irllrec.model.losses import (
    info_nce_sum,
    soft_target_cross_entropy,
    translation_alignment,
)
from recbole_irllrec.model.towers import EMATeacher, TextEncoder, TextTower

SCOPES = ("batch", "all")
# keys of the text side that belong to no one term: the triples the terms read, the towers' shape
TEXT_INPUT_KEYS = ("text_batch_size", "text_proj_dim", "tower_hidden")


@dataclass
class Batch:
    """One training batch in node ids: ``pos`` / ``neg`` are items shifted by ``n_users``."""

    user: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor

    @cached_property
    def nodes(self) -> torch.Tensor:
        """The batch's distinct nodes, sorted (computed once per batch)."""
        return torch.unique(torch.cat([self.user, self.pos, self.neg]))

    def head(self, size: int) -> Batch:
        """The first ``size`` triples (0: all). RecBole shuffles training
        batches, so these are a uniform sample of the batch."""
        if not size or size >= self.user.shape[0]:
            return self
        return Batch(self.user[:size], self.pos[:size], self.neg[:size])


def text_batch_size(config) -> int:
    """``text_batch_size``: how many triples of each batch the text terms read
    (0: all). Their cost grows with the square of it (in-batch candidates)."""
    size = int(config["text_batch_size"])
    if size < 0:
        raise ValueError(f"text_batch_size must be >= 0, got {size}")
    return size


class Rows:
    """Values of some rows of a node table: ``take(nodes)`` reads them by node id.
    ``rows`` None means a full table (row k = node k)."""

    def __init__(self, rows: torch.Tensor | None, values: torch.Tensor) -> None:
        self.rows, self.values = rows, values

    def take(self, nodes: torch.Tensor) -> torch.Tensor:
        if self.rows is None:
            return self.values.index_select(0, nodes)
        return self.values.index_select(0, torch.searchsorted(self.rows, nodes))


def check_choice(config, key: str, allowed: tuple[str, ...]) -> str:
    value = config[key]
    if value not in allowed:
        raise ValueError(f"{key} must be one of {list(allowed)}, got {value!r}")
    return value


class Candidates(nn.Module):
    """The user-side InfoNCE candidates of the profile and pairwise terms.

    ``candidate_scope: all`` is the reference: every real user, every batch
    (the towers then run over all users, O(users) per batch). ``batch`` uses the
    batch's distinct users, as the item side already does, plus
    ``candidate_sample`` users drawn uniformly (0: none), so the cost no longer
    grows with the number of users.
    """

    KEYS = ("candidate_scope", "candidate_sample")

    def __init__(self, config, n_users: int) -> None:
        super().__init__()
        self.scope = check_choice(config, "candidate_scope", SCOPES)
        self.sample = int(config["candidate_sample"])
        if self.sample < 0:
            raise ValueError(f"candidate_sample must be >= 0, got {self.sample}")
        self.register_buffer("real_users", torch.arange(1, n_users), persistent=False)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Sorted distinct candidate user ids."""
        if self.scope == "all":
            return self.real_users
        users = batch.user
        if self.sample:
            drawn = torch.randint(0, self.real_users.numel(), (self.sample,), device=users.device)
            users = torch.cat([users, self.real_users[drawn]])
        return torch.unique(users)


def info_nce_group(graph: Rows, text: Rows, batch: Batch, candidates: torch.Tensor, temperature: float) -> torch.Tensor:
    """The reference's three InfoNCE terms, divided by the batch size: batch
    users against ``candidates``, positives and negatives each against the
    batch's positives / negatives. Repeated ids are counted, not repeated."""
    users, counts = torch.unique(batch.user, return_counts=True)
    loss = info_nce_sum(graph.take(users), text.take(users), text.take(candidates), temperature, anchor_counts=counts)
    for items in (batch.pos, batch.neg):
        nodes, counts = torch.unique(items, return_counts=True)
        side = text.take(nodes)
        loss = loss + info_nce_sum(graph.take(nodes), side, side, temperature, counts, counts)
    return loss / batch.user.shape[0]


def tower_keys(config) -> dict:
    """The tower shape keys every text encoder reads (``text_proj_dim``, ``tower_hidden``)."""
    return {"proj_dim": int(config["text_proj_dim"]), "hidden": int(config["tower_hidden"])}


class ProfileAlignment(nn.Module):
    """kd (RLMRec-Con): InfoNCE between final CF embeddings and the profile
    tower's output; ``kd_weight``, ``kd_temperature``."""

    KEYS = ("kd_weight", "kd_temperature")

    def __init__(self, config, profile: TextEncoder) -> None:
        super().__init__()
        self.weight = config["kd_weight"]
        self.temperature = config["kd_temperature"]
        self.text = profile

    def forward(self, final: torch.Tensor, batch: Batch, candidates: torch.Tensor) -> torch.Tensor:
        rows = torch.unique(torch.cat([candidates, batch.nodes]))
        text = Rows(rows, self.text(rows))
        return self.weight * info_nce_group(Rows(None, final), text, batch, candidates, self.temperature)


class PairwiseAlignment(nn.Module):
    """PA: InfoNCE between interaction intents ``r`` of the batch's nodes (on
    the intent-aware graph) and the intent tower's output;
    ``kd_int_weight``, ``kd_int_temperature``, ``intent_num``, ``intent_neighbors``.

    ``shared_prototypes`` (a backbone's ``intent_prototypes``, for DCCF and
    BIGCF) replaces the intent graph's own ``intent_num`` prototypes.
    """

    KEYS = ("kd_int_weight", "kd_int_temperature", "intent_num", "intent_neighbors")

    def __init__(
        self, config, n_users: int, edge_index: torch.Tensor,
        shared_prototypes: Callable[[], Prototypes] | None = None,
    ) -> None:
        super().__init__()
        self.weight = config["kd_int_weight"]
        self.temperature = config["kd_int_temperature"]
        max_neighbors = int(config["intent_neighbors"])
        if max_neighbors < 0:
            raise ValueError(f"intent_neighbors must be >= 0, got {max_neighbors}")
        # intent_num is read only when the graph owns its prototypes
        intent_num = config["intent_num"] if shared_prototypes is None else 0
        self.intent_graph = IntentGraph(
            n_users, config["embedding_size"], intent_num, edge_index, max_neighbors, shared_prototypes
        )

    @staticmethod
    def rows(batch: Batch, candidates: torch.Tensor) -> torch.Tensor:
        return torch.cat([candidates, batch.nodes])

    def forward(self, layers: list[torch.Tensor], intent: Rows, batch: Batch, candidates: torch.Tensor) -> torch.Tensor:
        nodes = batch.nodes
        # r is only read at the batch's nodes: the intent graph computes just those rows
        r = Rows(nodes, self.intent_graph(layers[:-1], nodes=nodes))
        return self.weight * info_nce_group(r, intent, batch, candidates, self.temperature)


class AlignScope(nn.Module):
    """The rows TA and ITM read (``align_scope``): the batch's distinct real
    nodes, or every real node (the reference)."""

    KEYS = ("align_scope",)

    def __init__(self, config, n_users: int, real_nodes: torch.Tensor) -> None:
        super().__init__()
        self.scope = check_choice(config, "align_scope", SCOPES)
        self.n_users = n_users
        self.register_buffer("real_nodes", real_nodes, persistent=False)  # the model's, shared

    def forward(self, batch: Batch) -> torch.Tensor:
        if self.scope == "all":
            return self.real_nodes
        nodes = batch.nodes
        return nodes[(nodes != 0) & (nodes != self.n_users)]  # padding ids are never aligned


class TranslationAlignment(nn.Module):
    """TA: multiplicative noise on both sides, then InfoNCE from the intent
    tower's output to the final CF embeddings over the scope's rows;
    ``kd_int_weight_2``, ``ta_temperature``, ``align_chunk_size``."""

    KEYS = ("kd_int_weight_2", "ta_temperature", "align_chunk_size")

    def __init__(self, config) -> None:
        super().__init__()
        self.weight = config["kd_int_weight_2"]
        self.temperature = config["ta_temperature"]
        self.chunk_size = config["align_chunk_size"]

    def forward(self, intent: Rows, final: torch.Tensor, scope: torch.Tensor) -> torch.Tensor:
        ta = translation_alignment(intent.take(scope), final.index_select(0, scope), self.temperature, self.chunk_size)
        return self.weight * ta


class TextMatching(nn.Module):
    """ITM: soft targets from an EMA teacher of the intent tower for the
    student's log-softmax, plus ``itm_ta_share`` of the weighted TA term;
    ``kd_int_weight_3``, ``itm_ta_share``, ``momentum``, ``teacher_reinit``."""

    KEYS = ("kd_int_weight_3", "itm_ta_share", "momentum", "teacher_reinit")

    def __init__(self, config, student: TextTower) -> None:
        super().__init__()
        self.weight = config["kd_int_weight_3"]
        self.ta_share = config["itm_ta_share"]
        self.teacher = EMATeacher(student, config["momentum"], reinit=config["teacher_reinit"])

    def forward(
        self, intent: Rows, text: TextEncoder, scope: torch.Tensor, weighted_ta, hidden: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``hidden``: the student's first-layer pre-activation of every node,
        when the intent tower ran over every node (then the teacher follows it)."""
        # the reference updates the teacher every step, before its forward pass
        self.teacher.update(text.tower)
        if hidden is not None:
            target = self.teacher.follow(text, hidden).index_select(0, scope)
        else:
            target = self.teacher(text.inputs(scope))
        soft = soft_target_cross_entropy(intent.take(scope), target)
        return self.weight * (self.ta_share * weighted_ta + (1.0 - self.ta_share) * soft)


class ProfileReconstruction(nn.Module):
    """RLMRec-Gen: a ``mask_ratio`` share of the real nodes get a learned mask
    token instead of their ego embedding; a decoder maps the masked nodes'
    final embeddings back to their profile vectors (InfoNCE);
    ``recon_weight``, ``re_temperature``, ``mask_ratio``."""

    KEYS = ("recon_weight", "re_temperature", "mask_ratio")

    def __init__(self, config, profile_vectors: torch.Tensor) -> None:
        super().__init__()
        self.weight = config["recon_weight"]
        self.temperature = config["re_temperature"]
        self.mask_ratio = config["mask_ratio"]
        d = config["embedding_size"]
        self.register_buffer("profile_vectors", profile_vectors, persistent=False)
        self.mask_token = nn.Parameter(torch.zeros(1, d))
        self.decoder = TextTower(d, profile_vectors.shape[1])

    def mask(self, ego: torch.Tensor, real_nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(masked ego embeddings, masked node ids)``."""
        n_masked = max(1, int(real_nodes.numel() * self.mask_ratio))
        seeds = real_nodes[torch.randperm(real_nodes.numel(), device=real_nodes.device)[:n_masked]]
        return ego.index_copy(0, seeds, self.mask_token.expand(n_masked, -1)), seeds

    def forward(self, final: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        decoded = self.decoder(final.index_select(0, seeds))
        target = self.profile_vectors.index_select(0, seeds)
        return self.weight * info_nce_sum(decoded, target, target, self.temperature) / seeds.numel()


def keys_of(*terms) -> frozenset[str]:
    """The config keys the given terms read (their ``KEYS``); strings are taken as keys."""
    return frozenset(key for term in terms for key in ((term,) if isinstance(term, str) else term.KEYS))


# every key of every text term: a model without a term does nothing with its keys
TEXT_KEYS = keys_of(
    *TEXT_INPUT_KEYS, Candidates, ProfileAlignment, PairwiseAlignment, AlignScope, TranslationAlignment,
    TextMatching, ProfileReconstruction,
    "cold_scoring", "cold_ridge",  # model/cold.py's ColdScoring (which imports this module): scoring, not a loss term
)
