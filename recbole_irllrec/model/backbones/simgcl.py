"""SimGCL as a graph encoder (Yu et al., "Are Graph Augmentations Necessary?
Simple Graph Contrastive Learning for Recommendation", SIGIR 2022).

Scoring, BPR and the text terms use plain LightGCN propagation. The backbone
loss propagates the batch's ego embeddings (``output.layers[0]``) twice more,
each layer adding uniform noise of norm ``simgcl_eps`` aligned with the sign of
the embedding (``E + sign(E) * normalize(U(0, 1)) * eps``), and contrasts the
two views (:mod:`recbole_irllrec.model.backbones.contrast`). ``simgcl_form``:

* ``batch``: layers ``1 .. L`` combined (the ego layer excluded, as in SimGCL
  and RecBole-GNN), the batch's distinct users and positive items as candidates;
* ``reference`` (the IRLLRec authors' ``simgcl_int.py``): all layers
  ``0 .. L`` combined, all users / all items of view 2 as candidates (negative
  items are not contrasted, as there).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from recbole_irllrec.model.backbones.base import EncoderOutput
from recbole_irllrec.model.backbones.contrast import ViewContrast, check_form
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.graph import propagate


class SimGCLEncoder(LightGCNEncoder):
    """LightGCN plus SimGCL's contrastive loss between two noise-perturbed propagations."""

    KEY_PREFIX = "simgcl_"

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.eps = float(config["simgcl_eps"])
        self.cl_tau = float(config["simgcl_cl_tau"])
        self.cl_weight = float(config["simgcl_cl_weight"])
        self.form = check_form(config, "simgcl_form")
        self.contrast = ViewContrast(self.form, self.cl_tau, n_users, n_items, negatives=False)
        # the layers a view combines: the reference includes the ego layer E^(0)
        self.first_view_layer = 0 if self.form == "reference" else 1

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
        """Two perturbed final embeddings from ``ego`` (layers 1..L combined, or
        0..L in the ``reference`` form)."""
        return tuple(self.combine(self.perturbed_layers(ego)[self.first_view_layer :]) for _ in range(2))

    def backbone_loss(self, user, pos, neg, output: EncoderOutput):
        if not self.cl_weight:
            return None
        view1, view2 = self.view_embeddings(output.layers[0])
        return self.cl_weight * self.contrast(view1, view2, user, pos, neg)
