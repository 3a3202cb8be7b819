"""SimGCL as a graph encoder (Yu et al., "Are Graph Augmentations Necessary?
Simple Graph Contrastive Learning for Recommendation", SIGIR 2022).

Scoring uses plain LightGCN propagation. The backbone loss propagates the
batch's ego embeddings (``output.layers[0]``) twice more, each layer adding
uniform noise of norm ``simgcl_eps`` aligned with the sign of the embedding
(``E + sign(E) * normalize(U(0, 1)) * eps``), combines layers ``1 .. L`` (the
ego layer excluded, as in SimGCL and RecBole-GNN) and contrasts the two views
for the batch's distinct users and distinct positive items, each against the
other view's embeddings of the same distinct nodes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from recbole_irllrec.model.backbones.base import EncoderOutput
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.graph import propagate
from recbole_irllrec.model.losses import two_view_info_nce


class SimGCLEncoder(LightGCNEncoder):
    """LightGCN plus SimGCL's contrastive loss between two noise-perturbed propagations."""

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.eps = float(config["simgcl_eps"])
        self.cl_tau = float(config["simgcl_cl_tau"])
        self.cl_weight = float(config["simgcl_cl_weight"] or 0.0)

    def perturb(self, embeddings: torch.Tensor) -> torch.Tensor:
        noise = F.normalize(torch.rand_like(embeddings), dim=-1)
        return embeddings + torch.sign(embeddings) * noise * self.eps

    def perturbed_layers(self, ego: torch.Tensor) -> list[torch.Tensor]:
        """``[E^(0), E'^(1) .. E'^(L)]``: each propagated layer perturbed before the next."""
        layers = [ego]
        for _ in range(self.n_layers):
            layers.append(self.perturb(propagate(self.adj, layers[-1])))
        return layers

    def view_embeddings(self, ego: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two perturbed final embeddings (layers 1..L combined), from ``ego``."""
        return tuple(self.combine(self.perturbed_layers(ego)[1:]) for _ in range(2))

    def backbone_loss(self, user, pos, neg, output: EncoderOutput):
        if not self.cl_weight:
            return None
        view1, view2 = self.view_embeddings(output.layers[0])
        return self.cl_weight * two_view_info_nce(view1, view2, user, pos, self.n_users, self.cl_tau)
