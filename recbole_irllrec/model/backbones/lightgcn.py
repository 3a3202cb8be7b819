"""LightGCN as a graph encoder (He et al., SIGIR 2020).

An encoder owns the ego embeddings and returns the per-layer embeddings
``E^(0) .. E^(L)`` plus their combination; scoring and losses live in the
recommender that composes it.
"""
from __future__ import annotations

import torch
from torch import nn

from recbole_irllrec.model.graph import normalized_adjacency, propagate


class LightGCNEncoder(nn.Module):
    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_size: int,
        n_layers: int,
        edge_index: torch.Tensor,
        layer_combine: str = "sum",
    ) -> None:
        super().__init__()
        if layer_combine not in ("sum", "mean"):
            raise ValueError(f"layer_combine must be 'sum' or 'mean', got {layer_combine!r}")
        self.n_users, self.n_items = n_users, n_items
        self.n_layers = n_layers
        self.layer_combine = layer_combine
        self.user_embedding = nn.Embedding(n_users, embedding_size)
        self.item_embedding = nn.Embedding(n_items, embedding_size)
        # the reference initialises the (n, d) tables with xavier_uniform
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_embedding.weight)
        self.register_buffer("adj", normalized_adjacency(edge_index, n_users + n_items), persistent=False)

    def ego_embeddings(self) -> torch.Tensor:
        return torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)

    def forward(self) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns ``(final [n_nodes, d], [E^(0), ..., E^(L)])``."""
        layers = [self.ego_embeddings()]
        for _ in range(self.n_layers):
            layers.append(propagate(self.adj, layers[-1]))
        final = torch.stack(layers, dim=0).sum(dim=0)
        if self.layer_combine == "mean":
            final = final / len(layers)
        return final, layers
