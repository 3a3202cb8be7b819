"""BIGCF as a graph encoder (Zhang, Sang, Zhang, "Exploring the Individuality
and Collectivity of Intents behind Interactions for Graph Collaborative
Filtering", SIGIR 2024), following the IRLLRec authors' ``bigcf.py``.

* LightGCN propagation of the ego embeddings; ``g = E^(0) + ... + E^(L)``
  (``layer_combine``, sum as the reference).
* Individual intents: ``c_v = softmax(g_v P) P^T`` with learned prototypes
  ``P_U`` / ``P_I`` ([d, K], one set per side).
* The final embedding is a reparameterised sample ``z = g + c * eps``,
  ``eps ~ N(0, I)``: ``g`` is the mean, the intent the scale. The reference
  samples in evaluation as well (its prediction reruns the noisy forward);
  here evaluation returns the mean ``g``, so scores are deterministic.
* Collective intents: the prototypes are shared by every user (item) and kept
  small by ``cen_weight * (||P_U||^2 + ||P_I||^2)``.
* Graph contrastive regularisation: five in-batch InfoNCE terms with
  temperature ``bigcf_temperature``, each the mean over the batch: z_u vs z_u,
  z_i vs z_i, z_u vs z_i (user with its positive item), c_u vs c_u, c_i vs c_i,
  where every other batch row is a negative.
"""
from __future__ import annotations

import torch

from recbole_irllrec.model.backbones.base import EncoderOutput
from recbole_irllrec.model.backbones.lightgcn import LightGCNEncoder
from recbole_irllrec.model.intent import init_prototypes, intent_mixture
from recbole_irllrec.model.losses import info_nce_sum


class BIGCFEncoder(LightGCNEncoder):
    """LightGCN propagation plus BIGCF's bilateral intents and reparameterisation."""

    KEY_PREFIX = "bigcf_"
    INTENT_NUM_KEY = "bigcf_intent_num"

    def __init__(self, config, n_users: int, n_items: int, edge_index: torch.Tensor) -> None:
        super().__init__(config, n_users, n_items, edge_index)
        self.intent_num = config["bigcf_intent_num"]
        self.ssl_weight = config["bigcf_ssl_weight"]
        self.temperature = config["bigcf_temperature"]
        self.cen_weight = config["bigcf_cen_weight"]
        self.user_intent, self.item_intent = init_prototypes(self.embedding_size, self.intent_num)

    def forward(self, ego: torch.Tensor | None = None) -> EncoderOutput:
        layers = self.propagate_layers(self.adj, self.ego_embeddings() if ego is None else ego)
        mean = self.combine(layers)
        intent = intent_mixture(mean, self.intent_prototypes(), self.n_users)
        final = mean + intent * torch.randn_like(mean) if self.training else mean
        return EncoderOutput(final, layers, {"intent": intent})

    def intent_prototypes(self) -> tuple[torch.Tensor, torch.Tensor]:
        # the reference's bigcf_int.py computes the per-layer intents of its
        # intent-aware graph with the same user_intent / item_intent as the
        # bilateral intents, so IRLLRec's PA term uses these prototypes
        return self.user_intent, self.item_intent

    def _contrast(self, anchors, positives, candidates, anchor_counts, candidate_counts) -> torch.Tensor:
        return info_nce_sum(anchors, positives, candidates, self.temperature, anchor_counts, candidate_counts)

    def _self_contrast(self, embeddings: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Sum over batch rows of InfoNCE(e_b, e_b; all batch rows), with
        repeated ids computed once and counted."""
        ids, counts = torch.unique(ids, return_counts=True)
        e = embeddings[ids]
        return self._contrast(e, e, e, counts, counts)

    def contrastive_loss(self, user: torch.Tensor, pos: torch.Tensor, output: EncoderOutput) -> torch.Tensor:
        """The five InfoNCE terms, each averaged over the batch (unweighted)."""
        items = pos + self.n_users
        z, c = output.final, output.extra["intent"]
        loss = self._self_contrast(z, user) + self._self_contrast(z, items)
        loss = loss + self._self_contrast(c, user) + self._self_contrast(c, items)
        # user -> its positive item, the batch's positive items as candidates
        # (user, item) pairs as one integer key: 1-D unique is far faster than unique(dim=1)
        keys, pair_counts = torch.unique(user * self.n_nodes + items, return_counts=True)
        pair_users, pair_items = keys // self.n_nodes, keys % self.n_nodes
        cand, cand_counts = torch.unique(items, return_counts=True)
        loss = loss + self._contrast(z[pair_users], z[pair_items], z[cand], pair_counts, cand_counts)
        return loss / user.shape[0]

    def backbone_loss(
        self, user: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, output: EncoderOutput
    ) -> torch.Tensor | None:
        loss = None
        if self.ssl_weight:
            loss = self.ssl_weight * self.contrastive_loss(user, pos, output)
        if self.cen_weight:
            cen = self.cen_weight * (self.user_intent.pow(2).sum() + self.item_intent.pow(2).sum())
            loss = cen if loss is None else loss + cen
        return loss
