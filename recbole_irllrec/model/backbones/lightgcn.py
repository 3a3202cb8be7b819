"""LightGCN as a graph encoder (He et al., "LightGCN: Simplifying and Powering
Graph Convolution Network for Recommendation", SIGIR 2020)."""
from __future__ import annotations

import torch
from torch import nn

from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.graph import normalized_adjacency, propagate


class LightGCNEncoder(GraphEncoder):
    """``E^(l+1) = Â E^(l)`` on the symmetric-normalised graph; the final
    embedding is the ``sum`` (reference) or ``mean`` (RecBole) of ``E^(0..L)``."""

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.layer_combine = config["layer_combine"]
        if self.layer_combine not in ("sum", "mean"):
            raise ValueError(f"layer_combine must be 'sum' or 'mean', got {self.layer_combine!r}")
        self.user_embedding = nn.Embedding(n_users, self.embedding_size)
        self.item_embedding = nn.Embedding(n_items, self.embedding_size)
        # the reference initialises the (n, d) tables with xavier_uniform
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_embedding.weight)
        self.register_buffer("adj", normalized_adjacency(edge_index, self.n_nodes), persistent=False)

    def ego_embeddings(self) -> torch.Tensor:
        return torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)

    def propagate_layers(self, adj: torch.Tensor, ego: torch.Tensor) -> list[torch.Tensor]:
        """``[E^(0), ..., E^(L)]`` on ``adj``: subclasses reuse it on augmented graphs."""
        layers = [ego]
        for _ in range(self.n_layers):
            layers.append(propagate(adj, layers[-1]))
        return layers

    def combine(self, layers: list[torch.Tensor]) -> torch.Tensor:
        final = torch.stack(layers, dim=0).sum(dim=0)
        return final / len(layers) if self.layer_combine == "mean" else final

    def forward(self, ego: torch.Tensor | None = None) -> EncoderOutput:
        layers = self.propagate_layers(self.adj, self.ego_embeddings() if ego is None else ego)
        return EncoderOutput(self.combine(layers), layers)
