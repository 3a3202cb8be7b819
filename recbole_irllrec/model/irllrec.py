r"""
IRLLRec
################################################

Reference:
    Yu Wang, Lei Sang, Yi Zhang, Yiwen Zhang. "Intent Representation Learning with
    Large Language Model for Recommendation." in SIGIR 2025 (arXiv:2502.03307).

A graph backbone learns interaction embeddings; LLM-written profile and intent
texts, embedded once and loaded as RecBole atomic features, are mapped by two
MLP towers into the same space and aligned with the graph side:

- kd (profile alignment, RLMRec-Con): InfoNCE between final CF embeddings and
  the profile tower's output.
- PA (pairwise alignment): InfoNCE between interaction intents ``r`` (from the
  intent-aware adaptive graph) and the intent tower's output ``z``.
- TA (translation alignment): InfoNCE from noisy ``z`` to noisy CF embeddings.
- ITM (interaction-text matching): soft targets from an EMA teacher of the
  intent tower, plus a 0.4 share of the weighted TA term (as the reference).

Defaults and differences from the reference code:

- ``align_scope: batch`` (default) computes TA and ITM over the batch's
  distinct users and items; ``all`` reproduces the reference (every node every
  batch), chunked so memory stays O(chunk x N).
- ``teacher_reinit: false`` (default) starts the EMA teacher as a copy of the
  intent tower; ``true`` reproduces the reference, which re-initialises the
  copy so teacher and student start apart.
- ``reg_scope: all`` (default, the reference) regularises every trainable
  parameter; ``batch`` regularises the batch's ego embeddings as RecBole's
  LightGCN does.
- ``layer_combine: sum`` (default, the reference) sums the layers; ``mean``
  averages them as RecBole's LightGCN.
A term whose weight is 0 is not computed at all.
"""

from __future__ import annotations

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.model.loss import EmbLoss
from recbole.utils import InputType

from recbole_irllrec.data.text_features import (
    ITEM_INTENT,
    ITEM_PROFILE,
    USER_INTENT,
    USER_PROFILE,
    load_text_matrices,
)
from recbole_irllrec.model.backbones import BACKBONES
from recbole_irllrec.model.graph import bipartite_edges
from recbole_irllrec.model.intent import IntentGraph
from recbole_irllrec.model.losses import (
    bpr_loss,
    info_nce_sum,
    l2_norm_sq,
    soft_target_cross_entropy,
    translation_alignment,
)
from recbole_irllrec.model.towers import EMATeacher, TextTower


class IRLLRec(GeneralRecommender):
    r"""IRLLRec on a graph backbone (LightGCN), trained pairwise with BPR plus
    the profile and intent alignment terms."""

    input_type = InputType.PAIRWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # config keys, read once
        self.embedding_size = config["embedding_size"]
        self.n_layers = config["n_layers"]
        self.intent_num = config["intent_num"]
        self.reg_weight = config["reg_weight"]
        self.reg_scope = config["reg_scope"]
        self.require_pow = config["require_pow"]
        self.kd_weight = config["kd_weight"]
        self.kd_temperature = config["kd_temperature"]
        self.kd_int_weight = config["kd_int_weight"]
        self.kd_int_temperature = config["kd_int_temperature"]
        self.kd_int_weight_2 = config["kd_int_weight_2"]
        self.kd_int_weight_3 = config["kd_int_weight_3"]
        self.ta_temperature = config["ta_temperature"]
        self.itm_ta_share = config["itm_ta_share"]
        self.align_scope = config["align_scope"]
        self.align_chunk_size = config["align_chunk_size"]
        if self.reg_scope not in ("all", "batch"):
            raise ValueError(f"reg_scope must be 'all' or 'batch', got {self.reg_scope!r}")
        if self.align_scope not in ("all", "batch"):
            raise ValueError(f"align_scope must be 'all' or 'batch', got {self.align_scope!r}")
        backbone = config["backbone"]
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")

        edge_index = bipartite_edges(dataset.inter_matrix(form="coo"), self.n_users)
        self.n_nodes = self.n_users + self.n_items
        self.backbone = BACKBONES[backbone](
            self.n_users,
            self.n_items,
            self.embedding_size,
            self.n_layers,
            edge_index,
            layer_combine=config["layer_combine"],
        )
        self.intent_graph = IntentGraph(self.n_users, self.embedding_size, self.intent_num, edge_index)

        # frozen text vectors: buffers outside the state dict keep checkpoints small
        text = load_text_matrices(config, dataset)
        self.register_buffer("profile_vectors", torch.cat([text[USER_PROFILE], text[ITEM_PROFILE]]), persistent=False)
        self.register_buffer("intent_vectors", torch.cat([text[USER_INTENT], text[ITEM_INTENT]]), persistent=False)
        self.profile_tower = TextTower(self.profile_vectors.shape[1], self.embedding_size)
        self.intent_tower = TextTower(self.intent_vectors.shape[1], self.embedding_size)
        self.teacher = EMATeacher(self.intent_tower, config["momentum"], reinit=config["teacher_reinit"])
        # real (non-padding) users 1..n_users-1: the candidates of the user InfoNCE terms
        self.register_buffer("real_users", torch.arange(1, self.n_users), persistent=False)
        self.register_buffer(
            "real_nodes",
            torch.cat([torch.arange(1, self.n_users), torch.arange(self.n_users + 1, self.n_nodes)]),
            persistent=False,
        )

        self.batch_reg_loss = EmbLoss()
        self.restore_user_e = None
        self.restore_item_e = None
        self.other_parameter_name = ["restore_user_e", "restore_item_e"]

    def forward(self):
        final, layers = self.backbone()
        user_e, item_e = torch.split(final, [self.n_users, self.n_items])
        return user_e, item_e, layers

    def _info_nce_group(self, graph_side, text_side, user, pos, neg, temperature):
        """The reference's three InfoNCE terms (anchor users against all users,
        positives and negatives against the batch's positives / negatives),
        divided by the batch size. Repeated ids are counted, not repeated."""
        users, user_counts = torch.unique(user, return_counts=True)
        loss = info_nce_sum(
            graph_side[users], text_side[users], text_side[self.real_users], temperature, anchor_counts=user_counts
        )
        for items in (pos, neg):
            nodes, counts = torch.unique(items + self.n_users, return_counts=True)
            loss = loss + info_nce_sum(
                graph_side[nodes], text_side[nodes], text_side[nodes], temperature, counts, counts
            )
        return loss / user.shape[0]

    def _tower_rows(self, tower, vectors, rows):
        """Tower output for ``rows`` only, scattered into an [n_nodes, d] tensor."""
        out = vectors.new_zeros(self.n_nodes, self.embedding_size)
        return out.index_copy(0, rows, tower(vectors[rows]))

    def calculate_loss(self, interaction):
        if self.restore_user_e is not None or self.restore_item_e is not None:
            self.restore_user_e, self.restore_item_e = None, None

        user = interaction[self.USER_ID]
        pos = interaction[self.ITEM_ID]
        neg = interaction[self.NEG_ITEM_ID]

        user_e, item_e, layers = self.forward()
        u, p, n = user_e[user], item_e[pos], item_e[neg]
        loss = bpr_loss((u * p).sum(-1), (u * n).sum(-1))

        if self.reg_weight:
            if self.reg_scope == "all":
                reg = l2_norm_sq(w for w in self.parameters() if w.requires_grad)
            else:
                # as RecBole's LightGCN: the batch's ego embeddings
                ego = self.backbone.ego_embeddings()
                reg = self.batch_reg_loss(
                    ego[user], ego[pos + self.n_users], ego[neg + self.n_users], require_pow=self.require_pow
                ).squeeze()
            loss = loss + self.reg_weight * reg

        # the nodes the text terms touch: all users (InfoNCE candidates) and the batch's items
        batch_nodes = torch.unique(torch.cat([user, pos + self.n_users, neg + self.n_users]))
        if self.align_scope == "all":
            scope = self.real_nodes
        else:
            scope = batch_nodes[batch_nodes != 0]
            scope = scope[scope != self.n_users]
        tower_nodes = torch.unique(torch.cat([self.real_users, batch_nodes, scope]))
        final = torch.cat([user_e, item_e])

        if self.kd_weight:
            profile = self._tower_rows(self.profile_tower, self.profile_vectors, tower_nodes)
            kd = self._info_nce_group(final, profile, user, pos, neg, self.kd_temperature)
            loss = loss + self.kd_weight * kd

        use_intent = self.kd_int_weight or self.kd_int_weight_2 or self.kd_int_weight_3
        if use_intent:
            intent = self._tower_rows(self.intent_tower, self.intent_vectors, tower_nodes)
        if self.kd_int_weight:
            # r is only read at the batch's nodes: compute just those rows
            r = self.intent_graph(layers[:-1], nodes=batch_nodes)
            pa = self._info_nce_group(r, intent, user, pos, neg, self.kd_int_temperature)
            loss = loss + self.kd_int_weight * pa

        ta = 0.0
        if self.kd_int_weight_2:
            ta = self.kd_int_weight_2 * translation_alignment(
                intent[scope], final[scope], self.ta_temperature, self.align_chunk_size
            )
            loss = loss + ta
        if self.kd_int_weight_3:
            self.teacher.update(self.intent_tower)
            soft = soft_target_cross_entropy(intent[scope], self.teacher(self.intent_vectors[scope]))
            itm = self.itm_ta_share * ta + (1.0 - self.itm_ta_share) * soft
            loss = loss + self.kd_int_weight_3 * itm
        return loss

    def predict(self, interaction):
        user = interaction[self.USER_ID]
        item = interaction[self.ITEM_ID]
        user_e, item_e, _ = self.forward()
        return (user_e[user] * item_e[item]).sum(dim=1)

    def full_sort_predict(self, interaction):
        user = interaction[self.USER_ID]
        if self.restore_user_e is None or self.restore_item_e is None:
            self.restore_user_e, self.restore_item_e, _ = self.forward()
        scores = self.restore_user_e[user] @ self.restore_item_e.T
        return scores.view(-1)
