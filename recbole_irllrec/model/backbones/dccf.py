"""DCCF as a graph encoder (Ren, Xia, Zhao, Yin, Huang, "Disentangled
Contrastive Collaborative Filtering", SIGIR 2023).

Every layer ``l`` combines four views of ``E^(l)``:

* ``Z^(l)``  local message passing on the symmetric-normalised graph;
* ``R^(l)``  global intent-aware aggregation ``softmax(E P) P^T`` with the
  learnable ``d x K`` prototypes of users and items;
* ``G^(l)``  propagation of ``E^(l)`` on the graph re-weighted by the local
  view (edge weight ``(cos(z_h, z_t) + 1) / 2``, row-normalised);
* ``H^(l)``  the same on the graph re-weighted by the intent view.

``E^(l+1) = Z + R + G + H + E^(l)`` and the final embedding is the sum of
``E^(0) .. E^(L)``. The backbone loss contrasts the local view with each of
the other three, per layer, for the batch's distinct users and positive items.
The prototypes are L2-regularised through the recommender's ``reg_scope: all``
(every trainable parameter, as the reference's ``reg_params``); DCCF has no
separate prototype regulariser.
"""
from __future__ import annotations

import torch
from torch import nn

from recbole_irllrec.model.backbones.base import EncoderOutput, GraphEncoder
from recbole_irllrec.model.graph import adaptive_propagate, normalized_adjacency, propagate
from recbole_irllrec.model.intent import init_prototypes, intent_mixture
from recbole_irllrec.model.losses import info_nce_sum

# the views contrasted with the local (GNN) view, in the order of ``extra``
_VIEWS = ("intent", "gnn_aug", "intent_aug")


class DCCFEncoder(GraphEncoder):
    """Disentangled intent-aware propagation with adaptive augmentation."""

    KEY_PREFIX = "dccf_"
    INTENT_NUM_KEY = "dccf_intent_num"
    UNREAD_KEYS = {"layer_combine": "DCCF always sums its layers E^(0..L)"}

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.intent_num = config["dccf_intent_num"]
        self.cl_weight = config["dccf_cl_weight"]
        self.temperature = config["dccf_temperature"]
        d = self.embedding_size
        self.user_embedding = nn.Embedding(n_users, d)
        self.item_embedding = nn.Embedding(n_items, d)
        # the reference initialises tables and prototypes with xavier_uniform
        for weight in (self.user_embedding.weight, self.item_embedding.weight):
            nn.init.xavier_uniform_(weight)
        self.user_intent, self.item_intent = init_prototypes(d, self.intent_num)
        self.register_buffer("adj", normalized_adjacency(edge_index, self.n_nodes), persistent=False)

    def ego_embeddings(self) -> torch.Tensor:
        return torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)

    def intent_prototypes(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_intent, self.item_intent

    def forward(self, ego: torch.Tensor | None = None) -> EncoderOutput:
        layers = [self.ego_embeddings() if ego is None else ego]
        views: dict[str, list[torch.Tensor]] = {"gnn": [], "intent": [], "gnn_aug": [], "intent_aug": []}
        head, tail = self.edge_index
        for _ in range(self.n_layers):
            current = layers[-1]
            gnn = propagate(self.adj, current)
            intent = intent_mixture(current, self.intent_prototypes(), self.n_users)
            gnn_aug = adaptive_propagate(gnn, current, head, tail)
            intent_aug = adaptive_propagate(intent, current, head, tail)
            for key, value in zip(views, (gnn, intent, gnn_aug, intent_aug)):
                views[key].append(value)
            layers.append(gnn + intent + gnn_aug + intent_aug + current)
        final = torch.stack(layers, dim=0).sum(dim=0)
        # extra: [L, n_nodes, d] per view, read again by backbone_loss
        extra = {key: torch.stack(value, dim=0) for key, value in views.items() if value}
        return EncoderOutput(final, layers, extra)

    # ------------------------------------------------------------ loss
    def backbone_loss(
        self, user: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, output: EncoderOutput
    ) -> torch.Tensor | None:
        """``dccf_cl_weight`` x the InfoNCE of the local view against the
        intent, local-augmented and intent-augmented views, per layer, over the
        batch's distinct users and distinct positive items (negatives are left
        out, as in the reference); every term is divided by the number of
        distinct users, as the reference does (items included)."""
        if not self.cl_weight or "gnn" not in output.extra:
            return None
        users = torch.unique(user)
        items = torch.unique(pos) + self.n_users
        gnn = output.extra["gnn"]
        loss = gnn.new_zeros(())
        for nodes in (users, items):
            for layer in range(gnn.shape[0]):
                anchor = gnn[layer, nodes]
                for key in _VIEWS:
                    other = output.extra[key][layer, nodes]
                    loss = loss + info_nce_sum(anchor, other, other, self.temperature)
        return self.cl_weight * loss / users.numel()
