"""What a graph backbone supplies to the recommenders that compose it.

A backbone is a graph encoder: it owns the ego embeddings and returns the
per-layer embeddings and their combination. It may add its own training
signal (SGL's and SimGCL's contrastive views, DCCF's and BIGCF's intent
losses) through :meth:`GraphEncoder.backbone_loss`, and may expose native
intent prototypes that IRLLRec's intent graph then uses instead of its own.
Scoring, BPR and every text term live in the recommender, so one intent
module serves every backbone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class EncoderOutput:
    """``final`` [n_nodes, d] scores users and items; ``layers`` are
    ``E^(0) .. E^(L)`` (IRLLRec's intent graph reads ``E^(0) .. E^(L-1)``);
    ``extra`` holds backbone-specific tensors its own loss needs again."""

    final: torch.Tensor
    layers: list[torch.Tensor]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


class GraphEncoder(nn.Module):
    """Base class of the backbones in :data:`recbole_irllrec.model.backbones.BACKBONES`.

    Subclasses are built as ``cls(config, n_users, n_items, edge_index)`` and
    read their config keys once in ``__init__``; keys of one backbone are
    prefixed with its lower-case name (``sgl_``, ``simgcl_``, ...) and their
    defaults live in ``properties/backbone/<Name>.yaml``, merged for every model.
    SGL-style per-epoch resampling goes in an override of ``train(mode)``,
    which RecBole's trainer calls at the start of every epoch. ``edge_index`` is the ``[2, 2E]``
    bipartite edge list from :func:`recbole_irllrec.model.graph.bipartite_edges`
    (items shifted by ``n_users``).

    Three class attributes tell a search which keys a backbone reads
    (:meth:`recbole_irllrec.model.graph_text.GraphTextRecommender.unread_keys`):
    ``KEY_PREFIX``, the prefix of its own keys (every other backbone ignores
    them); ``UNREAD_KEYS``, shared keys it ignores, each with the reason; and
    ``INTENT_NUM_KEY``, the key of its native prototype count, set exactly when
    :meth:`intent_prototypes` returns prototypes.
    """

    KEY_PREFIX: str | None = None
    UNREAD_KEYS: dict[str, str] = {}
    INTENT_NUM_KEY: str | None = None

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.n_nodes = n_users + n_items
        self.embedding_size = config["embedding_size"]
        self.n_layers = config["n_layers"]
        self.register_buffer("edge_index", edge_index, persistent=False)

    def ego_embeddings(self) -> torch.Tensor:
        """The trainable ``E^(0)`` of every node, ``[n_nodes, d]``."""
        raise NotImplementedError

    def forward(self, ego: torch.Tensor | None = None) -> EncoderOutput:
        """Propagate from ``ego`` ([n_nodes, d]; default :meth:`ego_embeddings`).
        RLMRec-Gen passes masked ego embeddings here."""
        raise NotImplementedError

    def backbone_loss(
        self, user: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, output: EncoderOutput
    ) -> torch.Tensor | None:
        """The backbone's own weighted auxiliary loss for a batch (None: it has none).

        ``pos`` / ``neg`` are item ids (not shifted); ``output`` is this batch's forward.
        """
        return None

    def intent_prototypes(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Native ``(user [d, K], item [d, K])`` intent prototypes, or None."""
        return None
