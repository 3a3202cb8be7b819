"""Interaction intents: prototypes and the intent-aware adaptive graph.

For every layer ``l < L`` a node's intent is a soft mixture of learned
prototypes, ``c_v = P softmax(P^T e_v)`` (users and items have their own P).
Every training edge gets the weight ``(1 + cos(c_v, c_w)) / 2``, rows are
normalised (``D^-1``), and ``h^(l) = A~^(l) E^(l)``; the interaction intent is
``r = mean_l h^(l)``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from recbole_irllrec.model.graph import adaptive_propagate

Prototypes = tuple[torch.Tensor, torch.Tensor]


def intent_mixture(embeddings: torch.Tensor, prototypes: Prototypes, n_user_rows: int) -> torch.Tensor:
    """``softmax(E P) P^T`` per row: the first ``n_user_rows`` rows are users
    (weighed with ``P_U``), the rest items (``P_I``); prototypes are ``[d, K]``.

    The one prototype mixture of the package: IRLLRec's intent graph, DCCF's
    intent view and BIGCF's individual intents all call it.
    """
    user_p, item_p = prototypes
    users, items = embeddings[:n_user_rows], embeddings[n_user_rows:]
    u = F.softmax(users @ user_p, dim=1) @ user_p.T
    i = F.softmax(items @ item_p, dim=1) @ item_p.T
    return torch.cat([u, i], dim=0)


def init_prototypes(embedding_size: int, intent_num: int) -> tuple[nn.Parameter, nn.Parameter]:
    """``(P_U, P_I)``, each ``[d, K]`` and xavier-initialised (as the references)."""
    pair = (nn.Parameter(torch.empty(embedding_size, intent_num)), nn.Parameter(torch.empty(embedding_size, intent_num)))
    for p in pair:
        nn.init.xavier_uniform_(p)
    return pair


class IntentGraph(nn.Module):
    """Interaction intents ``r`` of chosen rows, on the intent-aware graph.

    Owns ``intent_num`` prototypes per side, unless ``shared_prototypes`` is
    given: then it builds none and weighs intents with what that callable
    returns (a backbone's native prototypes, DCCF's and BIGCF's, as the
    authors' BIGCF variant does), so no unused prototypes are trained,
    regularised or saved.
    """

    def __init__(
        self,
        n_users: int,
        embedding_size: int,
        intent_num: int,
        edge_index: torch.Tensor,
        max_neighbors: int = 0,
        shared_prototypes: Callable[[], Prototypes] | None = None,
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.max_neighbors = max_neighbors
        # a plain attribute (a bound method): the owner's parameters stay out of this module's state dict
        self.shared_prototypes = shared_prototypes
        if shared_prototypes is None:
            self.user_prototypes, self.item_prototypes = init_prototypes(embedding_size, intent_num)
        self.register_buffer("edge_index", edge_index, persistent=False)
        # start of each head's edges (edge_index is sorted by head): a row's edges are one slice
        n_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
        counts = torch.bincount(edge_index[0], minlength=n_nodes)
        self.register_buffer("row_start", torch.cat([counts.new_zeros(1), counts.cumsum(0)]), persistent=False)

    def prototypes(self) -> Prototypes:
        """``(P_U, P_I)``: the shared ones if given, else its own."""
        if self.shared_prototypes is not None:
            return self.shared_prototypes()
        return self.user_prototypes, self.item_prototypes

    def _edges_of(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(head, tail)`` of the edges whose head is in ``nodes``, without a
        pass over all edges: each head's edges are a contiguous slice. With
        ``max_neighbors`` k > 0 a node with more than k edges gets k drawn
        uniformly (with replacement), so the cost no longer follows the
        degree of popular nodes, which grows with the graph."""
        in_range = nodes[nodes < self.row_start.numel() - 1]
        start, stop = self.row_start[in_range], self.row_start[in_range + 1]
        lengths = stop - start
        k = self.max_neighbors
        capped = lengths > k if k else torch.zeros_like(lengths, dtype=torch.bool)
        keep_start, keep_len = start[~capped], lengths[~capped]
        # edge positions start_j, start_j + 1, .. stop_j - 1 for every uncapped node j, flattened
        offsets = torch.repeat_interleave(keep_start - torch.cumsum(keep_len, 0) + keep_len, keep_len)
        positions = offsets + torch.arange(offsets.numel(), device=nodes.device)
        if capped.any():
            draws = torch.rand(int(capped.sum()), k, device=nodes.device) * lengths[capped, None]
            positions = torch.cat([positions, (start[capped, None] + draws.long()).flatten()])
        return self.edge_index[0, positions], self.edge_index[1, positions]

    def forward(self, layer_embeddings: list[torch.Tensor], nodes: torch.Tensor | None = None) -> torch.Tensor:
        """``r`` for ``nodes`` (sorted distinct node ids; default every node),
        ``[len(nodes), d]``, from ``E^(0) .. E^(L-1)``.

        A row of the row-normalised graph depends only on its own edges, so the
        rows equal the full computation's; the cost follows the chosen rows'
        edges, not the graph's size. Intents are computed only for the nodes
        those edges touch.
        """
        prototypes = self.prototypes()
        if nodes is None:
            nodes = torch.arange(layer_embeddings[0].shape[0], device=self.edge_index.device)
        head, tail = self._edges_of(nodes)
        # one local id space: the chosen nodes and their neighbours, users first (sorted)
        local = torch.unique(torch.cat([nodes, tail]))
        head_l, tail_l = torch.searchsorted(local, head), torch.searchsorted(local, tail)
        out_rows = torch.searchsorted(local, nodes)
        n_user_rows = int(torch.searchsorted(local, torch.tensor(self.n_users, device=local.device)))
        total = 0
        for embeddings in layer_embeddings:
            e = embeddings.index_select(0, local)
            c = intent_mixture(e, prototypes, n_user_rows)
            total = total + adaptive_propagate(c, e, head_l, tail_l).index_select(0, out_rows)
        return total / len(layer_embeddings)
