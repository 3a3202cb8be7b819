"""SGL as a graph encoder (Wu et al., "Self-supervised Graph Learning for
Recommendation", SIGIR 2021).

The backbone loss propagates the ego embeddings of the batch's forward
(``output.layers[0]``, so RLMRec-Gen's masked ego is used as is) on two
augmented views of the user-item graph and contrasts the two final embeddings
(:mod:`recbole_irllrec.model.backbones.contrast`). Scoring, BPR and the text
terms use the clean propagation: three passes per batch, as the reference.

``sgl_form`` chooses the contrast and when views are drawn:

* ``batch``: views drawn once per training epoch (in :meth:`SGLEncoder.train`,
  which RecBole's trainer calls at the start of every epoch; ``eval()`` never
  resamples), the batch's distinct users and positive items as candidates;
* ``reference`` (the IRLLRec authors' ``sgl_int.py``): two new views for every
  batch, all users / all items of view 2 as candidates, negatives contrasted too.

Augmentations (``sgl_aug_type``), all on the undirected interactions and
re-normalised afterwards as in the SGL paper and RecBole's SGL (in both forms;
the reference instead drops directed entries of the normalised matrix without
re-normalising, and its node dropout zeroes ego embeddings):

* ``ED`` edge dropout: keep ``(1 - sgl_drop_ratio)`` of the interactions;
* ``ND`` node dropout: drop ``sgl_drop_ratio`` of the users and of the items
  with all their edges;
* ``RW`` random walk: a separate edge-dropout graph for every layer.
"""
from __future__ import annotations

import torch

from recbole_irllrec.model.backbones.base import EncoderOutput
from recbole_irllrec.model.backbones.contrast import ViewContrast, check_form
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.graph import normalized_adjacency

AUG_TYPES = ("ED", "ND", "RW")


class SGLEncoder(LightGCNEncoder):
    """LightGCN plus SGL's two-view contrastive loss on dropped-out graphs."""

    KEY_PREFIX = "sgl_"

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.aug_type = str(config["sgl_aug_type"]).upper()
        if self.aug_type not in AUG_TYPES:
            raise ValueError(f"sgl_aug_type must be one of {AUG_TYPES}, got {config['sgl_aug_type']!r}")
        self.drop_ratio = float(config["sgl_drop_ratio"])
        if not 0.0 <= self.drop_ratio < 1.0:
            raise ValueError(f"sgl_drop_ratio must be in [0, 1), got {self.drop_ratio}")
        self.ssl_tau = float(config["sgl_ssl_tau"])
        self.ssl_weight = float(config["sgl_ssl_weight"])
        self.form = check_form(config, "sgl_form")
        self.contrast = ViewContrast(self.form, self.ssl_tau, n_users, n_items, negatives=True)
        # each interaction once (user -> item: head < tail since items are shifted)
        undirected = edge_index[:, edge_index[0] < edge_index[1]]
        self.register_buffer("interactions", undirected.contiguous(), persistent=False)
        # two views, each a list of n_layers adjacencies; drawn by train()
        self.views: list[list[torch.Tensor]] | None = None

    # ------------------------------------------------------------ augmentation
    def _adjacency(self, kept: torch.Tensor) -> torch.Tensor:
        both = torch.cat([kept, kept.flip(0)], dim=1)
        return normalized_adjacency(both, self.n_nodes)

    def _edge_dropout(self) -> torch.Tensor:
        edges = self.interactions
        n_keep = int(edges.shape[1] * (1.0 - self.drop_ratio))
        keep = torch.randperm(edges.shape[1], device=edges.device)[:n_keep]
        return self._adjacency(edges[:, keep])

    def _node_dropout(self) -> torch.Tensor:
        edges = self.interactions
        alive = torch.ones(self.n_nodes, dtype=torch.bool, device=edges.device)
        for start, count in ((0, self.n_users), (self.n_users, self.n_items)):
            n_drop = int(count * self.drop_ratio)
            alive[start + torch.randperm(count, device=edges.device)[:n_drop]] = False
        return self._adjacency(edges[:, alive[edges[0]] & alive[edges[1]]])

    def _sample_view(self) -> list[torch.Tensor]:
        if self.aug_type == "RW":
            return [self._edge_dropout() for _ in range(self.n_layers)]
        adj = self._edge_dropout() if self.aug_type == "ED" else self._node_dropout()
        return [adj] * self.n_layers

    def resample(self) -> None:
        """Draw two new views: by :meth:`train` once per epoch (``batch`` form)
        or by :meth:`backbone_loss` for every batch (``reference`` form)."""
        with torch.no_grad():
            self.views = [self._sample_view(), self._sample_view()]

    def train(self, mode: bool = True):
        out = super().train(mode)
        if mode and self.ssl_weight and self.form == "batch":
            self.resample()
        return out

    # ------------------------------------------------------------ views and loss
    def view_layers(self, view: list[torch.Tensor], ego: torch.Tensor) -> list[torch.Tensor]:
        """``[E^(0) .. E^(L)]`` on one view (one adjacency per layer)."""
        layers = [ego]
        for adj in view:
            layers.append(torch.sparse.mm(adj, layers[-1]))
        return layers

    def view_embeddings(self, ego: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final embeddings of both current views, propagated from ``ego``."""
        if self.views is None or self.views[0][0].device != ego.device:
            self.resample()
        return tuple(self.combine(self.view_layers(view, ego)) for view in self.views)

    def backbone_loss(self, user, pos, neg, output: EncoderOutput):
        if not self.ssl_weight:
            return None
        if self.form == "reference":
            self.resample()
        view1, view2 = self.view_embeddings(output.layers[0])
        return self.ssl_weight * self.contrast(view1, view2, user, pos, neg)
