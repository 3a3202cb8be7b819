r"""One recommender for every (backbone, variant) pair.

A *backbone* is a graph encoder (:mod:`recbole_irllrec.model.backbones`,
config key ``backbone``); a *variant* is which training terms are on. The
registered models only choose the variant:

=============  =====================================================
``GraphCF``    the backbone alone: BPR + reg + the backbone's own loss
``RLMRecCon``  + profile alignment (``kd_weight``; Ren et al., WWW 2024)
``RLMRecGen``  + masked reconstruction of profile vectors (``recon_weight``)
``IRLLRec``    + profile alignment, PA, TA and ITM (Wang et al., SIGIR 2025)
=============  =====================================================

Weights of terms outside a variant are ignored, so one dataset file can carry
every weight. A term whose weight is 0 is not computed at all.
"""

from __future__ import annotations

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.model.loss import EmbLoss
from recbole.utils import InputType

from recbole_irllrec.data.text_features import (
    ITEM_INTENT,
    ITEM_PROFILE,
    TEXT_COLUMNS,
    USER_INTENT,
    USER_PROFILE,
    load_text_matrices,
)
from recbole_irllrec.model.backbones import BACKBONES, EncoderOutput
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

# term -> the config key of its weight
TERM_WEIGHTS = {
    "kd": "kd_weight",  # profile alignment (RLMRec-Con)
    "gen": "recon_weight",  # masked profile reconstruction (RLMRec-Gen)
    "pa": "kd_int_weight",  # pairwise intent alignment
    "ta": "kd_int_weight_2",  # translation alignment
    "itm": "kd_int_weight_3",  # interaction-text matching
}


class GraphTextRecommender(GeneralRecommender):
    """A backbone plus the text terms named in ``TERMS``; BPR, pairwise."""

    input_type = InputType.PAIRWISE
    TERMS: frozenset[str] = frozenset()
    BACKBONE: str | None = None  # fixed by models named after their backbone (DCCF, BIGCF)

    @classmethod
    def text_columns(cls, config) -> tuple[str, ...]:
        """The text columns this model reads (``utils.text_columns_needed``):
        all four once any text term of the variant is weighted, as ``__init__``
        loads profile and intent together; none otherwise (GraphCF)."""
        return TEXT_COLUMNS if any(config[TERM_WEIGHTS[t]] for t in cls.TERMS) else ()

    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # config keys, read once (weights outside the variant are 0)
        self.embedding_size = config["embedding_size"]
        self.reg_weight = config["reg_weight"]
        self.reg_scope = config["reg_scope"]
        self.require_pow = config["require_pow"]
        w = {term: (config[key] or 0.0) if term in self.TERMS else 0.0 for term, key in TERM_WEIGHTS.items()}
        self.kd_weight, self.recon_weight = w["kd"], w["gen"]
        self.kd_int_weight, self.kd_int_weight_2, self.kd_int_weight_3 = w["pa"], w["ta"], w["itm"]
        self.kd_temperature = config["kd_temperature"]
        self.kd_int_temperature = config["kd_int_temperature"]
        self.ta_temperature = config["ta_temperature"]
        self.itm_ta_share = config["itm_ta_share"]
        self.mask_ratio = config["mask_ratio"]
        self.re_temperature = config["re_temperature"]
        # TA/ITM keys are only in IRLLRec's property file: models without those terms get the defaults
        self.align_scope = config["align_scope"] or "batch"
        self.align_chunk_size = config["align_chunk_size"] or 4096
        if self.reg_scope not in ("all", "batch"):
            raise ValueError(f"reg_scope must be 'all' or 'batch', got {self.reg_scope!r}")
        if self.align_scope not in ("all", "batch"):
            raise ValueError(f"align_scope must be 'all' or 'batch', got {self.align_scope!r}")
        backbone = self.BACKBONE or config["backbone"]
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")

        edge_index = bipartite_edges(dataset.inter_matrix(form="coo"), self.n_users)
        self.n_nodes = self.n_users + self.n_items
        self.backbone = BACKBONES[backbone](config, self.n_users, self.n_items, edge_index)

        uses_profile = bool(self.kd_weight or self.recon_weight)
        self.uses_intent = bool(self.kd_int_weight or self.kd_int_weight_2 or self.kd_int_weight_3)
        if uses_profile or self.uses_intent:
            # frozen text vectors: buffers outside the state dict keep checkpoints small
            text = load_text_matrices(config, dataset)
            profile = torch.cat([text[USER_PROFILE], text[ITEM_PROFILE]])
            intent = torch.cat([text[USER_INTENT], text[ITEM_INTENT]])
            self.register_buffer("profile_vectors", profile, persistent=False)
            self.register_buffer("intent_vectors", intent, persistent=False)
        if self.kd_weight:
            self.profile_tower = TextTower(self.profile_vectors.shape[1], self.embedding_size)
        if self.recon_weight:
            # RLMRec-Gen: a learned mask token and a decoder from CF space to profile space
            self.mask_token = torch.nn.Parameter(torch.zeros(1, self.embedding_size))
            self.decoder = TextTower(self.embedding_size, self.profile_vectors.shape[1])
        if self.uses_intent:
            self.intent_tower = TextTower(self.intent_vectors.shape[1], self.embedding_size)
        if self.kd_int_weight:
            self.intent_graph = IntentGraph(self.n_users, self.embedding_size, config["intent_num"], edge_index)
        if self.kd_int_weight_3:
            self.teacher = EMATeacher(self.intent_tower, config["momentum"], reinit=config["teacher_reinit"])
        # real (non-padding) users and nodes: the candidates of the user InfoNCE terms and of scope "all"
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
        """``(user embeddings, item embeddings, [E^(0) .. E^(L)])`` of the backbone."""
        output = self.backbone()
        user_e, item_e = torch.split(output.final, [self.n_users, self.n_items])
        return user_e, item_e, output.layers

    # ------------------------------------------------------------ loss terms
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

    def _masked_forward(self) -> tuple[EncoderOutput, torch.Tensor]:
        """RLMRec-Gen: replace a ``mask_ratio`` share of the real nodes' ego
        embeddings by the mask token, then propagate."""
        n_masked = max(1, int(self.real_nodes.numel() * self.mask_ratio))
        seeds = self.real_nodes[torch.randperm(self.real_nodes.numel(), device=self.real_nodes.device)[:n_masked]]
        ego = self.backbone.ego_embeddings()
        masked = ego.index_copy(0, seeds, self.mask_token.expand(n_masked, -1))
        return self.backbone(masked), seeds

    def _regularizer(self, user, pos, neg):
        if self.reg_scope == "all":
            return l2_norm_sq(w for w in self.parameters() if w.requires_grad)
        # as RecBole's LightGCN: the batch's ego embeddings
        ego = self.backbone.ego_embeddings()
        return self.batch_reg_loss(
            ego[user], ego[pos + self.n_users], ego[neg + self.n_users], require_pow=self.require_pow
        ).squeeze()

    def calculate_loss(self, interaction):
        if self.restore_user_e is not None or self.restore_item_e is not None:
            self.restore_user_e, self.restore_item_e = None, None

        user = interaction[self.USER_ID]
        pos = interaction[self.ITEM_ID]
        neg = interaction[self.NEG_ITEM_ID]

        seeds = None
        if self.recon_weight:
            output, seeds = self._masked_forward()  # RLMRec-Gen trains on the masked graph
        else:
            output = self.backbone()
        final = output.final
        u, p, n = final[user], final[pos + self.n_users], final[neg + self.n_users]
        loss = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        if self.reg_weight:
            loss = loss + self.reg_weight * self._regularizer(user, pos, neg)
        own = self.backbone.backbone_loss(user, pos, neg, output)
        if own is not None:
            loss = loss + own

        if self.recon_weight:
            decoded = self.decoder(final[seeds])
            target = self.profile_vectors[seeds]
            gen = info_nce_sum(decoded, target, target, self.re_temperature) / seeds.numel()
            loss = loss + self.recon_weight * gen
        if not (self.kd_weight or self.uses_intent):
            return loss

        # the nodes the text terms touch: all users (InfoNCE candidates) and the batch's items
        batch_nodes = torch.unique(torch.cat([user, pos + self.n_users, neg + self.n_users]))
        if self.align_scope == "all":
            scope = self.real_nodes
        else:
            scope = batch_nodes[batch_nodes != 0]
            scope = scope[scope != self.n_users]
        tower_nodes = torch.unique(torch.cat([self.real_users, batch_nodes, scope]))

        if self.kd_weight:
            profile = self._tower_rows(self.profile_tower, self.profile_vectors, tower_nodes)
            kd = self._info_nce_group(final, profile, user, pos, neg, self.kd_temperature)
            loss = loss + self.kd_weight * kd

        if self.uses_intent:
            intent = self._tower_rows(self.intent_tower, self.intent_vectors, tower_nodes)
        if self.kd_int_weight:
            # r is only read at the batch's nodes: compute just those rows
            r = self.intent_graph(output.layers[:-1], nodes=batch_nodes, prototypes=self.intent_prototypes())
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

    def intent_prototypes(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The ``(P_U, P_I)`` the intent graph weighs with: a backbone's native
        ones (DCCF, BIGCF) first, else the intent graph's own; None without either."""
        native = self.backbone.intent_prototypes()
        if native is not None:
            return native
        graph = getattr(self, "intent_graph", None)  # only built with a PA weight
        return (graph.user_prototypes, graph.item_prototypes) if graph is not None else None

    # ------------------------------------------------------------ scoring
    def _user_item(self) -> tuple[torch.Tensor, torch.Tensor]:
        user_e, item_e, _ = self.forward()
        return user_e, item_e

    def predict(self, interaction):
        user = interaction[self.USER_ID]
        item = interaction[self.ITEM_ID]
        user_e, item_e = self._user_item()
        return (user_e[user] * item_e[item]).sum(dim=1)

    def full_sort_predict(self, interaction):
        user = interaction[self.USER_ID]
        if self.restore_user_e is None or self.restore_item_e is None:
            self.restore_user_e, self.restore_item_e = self._user_item()
        scores = self.restore_user_e[user] @ self.restore_item_e.T
        return scores.view(-1)
