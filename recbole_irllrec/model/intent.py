"""Interaction intents: prototypes and the intent-aware adaptive graph.

For every layer ``l < L`` a node's intent is a soft mixture of learned
prototypes, ``c_v = P softmax(P^T e_v)`` (users and items have their own P).
Every training edge gets the weight ``(1 + cos(c_v, c_w)) / 2``, rows are
normalised (``D^-1``), and ``h^(l) = A~^(l) E^(l)``; the interaction intent is
``r = mean_l h^(l)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recbole_irllrec.model.graph import row_normalized_propagate


class IntentGraph(nn.Module):
    def __init__(self, n_users: int, embedding_size: int, intent_num: int, edge_index: torch.Tensor) -> None:
        super().__init__()
        self.n_users = n_users
        self.user_prototypes = nn.Parameter(torch.empty(embedding_size, intent_num))
        self.item_prototypes = nn.Parameter(torch.empty(embedding_size, intent_num))
        nn.init.xavier_uniform_(self.user_prototypes)
        nn.init.xavier_uniform_(self.item_prototypes)
        self.register_buffer("edge_index", edge_index, persistent=False)

    def intents(
        self, layer_embeddings: torch.Tensor, prototypes: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``c_v`` for every node of one layer (``prototypes`` overrides the own ``(P_U, P_I)``)."""
        user_p, item_p = prototypes if prototypes is not None else (self.user_prototypes, self.item_prototypes)
        users, items = layer_embeddings[: self.n_users], layer_embeddings[self.n_users :]
        u = F.softmax(users @ user_p, dim=1) @ user_p.T
        i = F.softmax(items @ item_p, dim=1) @ item_p.T
        return torch.cat([u, i], dim=0)

    def forward(
        self,
        layer_embeddings: list[torch.Tensor],
        nodes: torch.Tensor | None = None,
        prototypes: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Interaction intents ``r`` ([n_nodes, d]) from ``E^(0) .. E^(L-1)``.

        ``prototypes`` are a backbone's native ``(P_U, P_I)`` (DCCF, BIGCF),
        used instead of this module's own.

        With ``nodes`` given, only those rows are computed (the others are 0):
        a row of the row-normalised graph depends only on its own edges, so
        the rows are exactly the full computation's.
        """
        head, tail = self.edge_index
        if nodes is not None:
            keep = torch.zeros(layer_embeddings[0].shape[0], dtype=torch.bool, device=head.device)
            keep[nodes] = True
            mask = keep[head]
            head, tail = head[mask], tail[mask]
        total = 0
        for embeddings in layer_embeddings:
            c = F.normalize(self.intents(embeddings, prototypes), dim=1)
            weight = ((c[head] * c[tail]).sum(-1) + 1) / 2
            total = total + row_normalized_propagate(head, tail, weight, embeddings)
        return total / len(layer_embeddings)
