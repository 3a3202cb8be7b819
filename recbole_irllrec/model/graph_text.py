r"""What every plugin recommender shares: a graph backbone, BPR, L2 and scoring.

A *backbone* is a graph encoder (:mod:`recbole_irllrec.model.backbones`,
config key ``backbone``); the text terms are modules of
:mod:`recbole_irllrec.model.alignment`, composed by each model in its own file:

=============  =====================================================
``GraphCF``    the backbone alone: BPR + reg + the backbone's own loss
``RLMRecCon``  + profile alignment (``kd_weight``; Ren et al., WWW 2024)
``RLMRecGen``  + masked reconstruction of profile vectors (``recon_weight``)
``IRLLRec``    + profile alignment, PA, TA and ITM (Wang et al., SIGIR 2025)
=============  =====================================================

Weights of terms outside a model are ignored, so one dataset file can carry
every weight (:meth:`GraphTextRecommender.unread_keys` names them, so that a
search does not tune them). A term whose weight is 0 is not built nor computed.
"""

from __future__ import annotations

from typing import Iterable

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.model.loss import EmbLoss
from recbole.utils import InputType

from recbole_irllrec.data.text_features import load_text_matrices
from recbole_irllrec.model.alignment import SCOPES, TEXT_KEYS, Batch, check_choice, tower_keys
from recbole_irllrec.model.backbones import BACKBONES, EncoderOutput, GraphEncoder, unread_backbone_keys
from recbole_irllrec.model.cold import ColdScoring
from recbole_irllrec.model.graph import bipartite_edges
from recbole_irllrec.model.intent import Prototypes
from recbole_irllrec.model.losses import bpr_loss, l2_norm_sq
from recbole_irllrec.model.towers import TextEncoder


class GraphTextRecommender(GeneralRecommender):
    """A backbone with BPR, L2 and its own loss; subclasses add text terms."""

    input_type = InputType.PAIRWISE
    BACKBONE: str | None = None  # fixed by models named after their backbone (DCCF, BIGCF)
    READS_TEXT_KEYS: frozenset[str] = frozenset()  # the text terms' keys this model reads (alignment.keys_of)

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.embedding_size = config["embedding_size"]
        self.reg_weight = config["reg_weight"]
        self.reg_scope = check_choice(config, "reg_scope", SCOPES)
        self.require_pow = config["require_pow"]
        encoder = self.backbone_class(config)

        edge_index = bipartite_edges(dataset.inter_matrix(form="coo"), self.n_users)
        self.n_nodes = self.n_users + self.n_items
        self.backbone = encoder(config, self.n_users, self.n_items, edge_index)
        # real (non-padding) nodes: users 1.., items n_users + 1..
        self.register_buffer(
            "real_nodes",
            torch.cat([torch.arange(1, self.n_users), torch.arange(self.n_users + 1, self.n_nodes)]),
            persistent=False,
        )
        self.batch_reg_loss = EmbLoss()
        self.cold_scoring: ColdScoring | None = None  # models with a text tower score cold nodes from text
        self.restore_user_e = None
        self.restore_item_e = None
        self.other_parameter_name = ["restore_user_e", "restore_item_e"]

    @classmethod
    def text_columns(cls, config) -> tuple[str, ...]:
        """The text-feature columns this model reads with ``config``'s weights."""
        return ()

    @classmethod
    def backbone_class(cls, config) -> type[GraphEncoder]:
        """The encoder class of ``config``'s backbone (fixed for DCCF, BIGCF)."""
        backbone = cls.BACKBONE or config["backbone"]
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
        return BACKBONES[backbone]

    @classmethod
    def unread_keys(cls, config, keys: Iterable[str]) -> dict[str, str]:
        """Of the config ``keys``, those this model does nothing with under
        ``config``'s backbone, each with the reason: other backbones' keys, keys
        the backbone ignores, keys of text terms the model does not have. A
        search drops them from its space (:mod:`recbole_irllrec.tuning.space`)."""
        keys = list(keys)
        cls.backbone_class(config)  # an unknown backbone is refused here, before a search starts
        unread = {key: f"{cls.__name__} has no text term that reads it" for key in keys
                  if key in TEXT_KEYS and key not in cls.READS_TEXT_KEYS}
        unread.update(unread_backbone_keys(cls.BACKBONE or config["backbone"], keys))
        if cls.BACKBONE and "backbone" in keys:
            unread["backbone"] = f"{cls.__name__} always uses the {cls.BACKBONE} backbone"
        return unread

    def text_encoder(self, config, dataset, kind: str) -> TextEncoder:
        """The ``kind`` ("profile" or "intent") vectors of users and items and their tower."""
        users, items = f"user_{kind}", f"item_{kind}"
        text = load_text_matrices(config, dataset, (users, items))
        return TextEncoder(text[users], text[items], self.embedding_size, **tower_keys(config))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user embeddings, item embeddings)`` of the backbone."""
        user_e, item_e = torch.split(self.backbone().final, [self.n_users, self.n_items])
        return user_e, item_e

    # ------------------------------------------------------------ training
    def batch_of(self, interaction) -> Batch:
        return Batch(
            interaction[self.USER_ID], interaction[self.ITEM_ID] + self.n_users, interaction[self.NEG_ITEM_ID] + self.n_users
        )

    def _regularizer(self, batch: Batch) -> torch.Tensor:
        if self.reg_scope == "all":
            return l2_norm_sq(w for w in self.parameters() if w.requires_grad)
        # as RecBole's LightGCN: the batch's ego embeddings
        ego = self.backbone.ego_embeddings()
        return self.batch_reg_loss(ego[batch.user], ego[batch.pos], ego[batch.neg], require_pow=self.require_pow).squeeze()

    def cf_loss(self, batch: Batch, output: EncoderOutput) -> torch.Tensor:
        """BPR + ``reg_weight`` x L2 + the backbone's own loss."""
        final = output.final
        u = final[batch.user]
        loss = bpr_loss((u * final[batch.pos]).sum(-1), (u * final[batch.neg]).sum(-1))
        if self.reg_weight:
            loss = loss + self.reg_weight * self._regularizer(batch)
        own = self.backbone.backbone_loss(batch.user, batch.pos - self.n_users, batch.neg - self.n_users, output)
        return loss if own is None else loss + own

    def _reset_cache(self) -> None:
        self.restore_user_e, self.restore_item_e = None, None

    def calculate_loss(self, interaction):
        self._reset_cache()
        return self.cf_loss(self.batch_of(interaction), self.backbone())

    def intent_prototypes(self) -> Prototypes | None:
        """The ``(P_U, P_I)`` intents are weighed with: a backbone's native ones
        (DCCF, BIGCF; the pairwise term then shares them), else the pairwise
        term's own; None without either."""
        native = self.backbone.intent_prototypes()
        if native is not None:
            return native
        pa = getattr(self, "pairwise_alignment", None)  # only built with a PA weight
        return pa.intent_graph.prototypes() if pa is not None else None

    # ------------------------------------------------------------ scoring
    def cold_scorer(self, config, towers: dict[str, TextEncoder | None]) -> ColdScoring | None:
        """Scoring of nodes without training edges from ``towers`` (``cold_scoring``);
        None when every weight that builds a tower is 0 (the model then scores as GraphCF)."""
        if all(tower is None for tower in towers.values()):
            return None
        return ColdScoring(config, self.backbone.edge_index, self.n_users, self.n_nodes, towers)

    def use_cold_scoring(self, choice: str) -> None:
        """Score cold nodes by ``choice`` from now on (``cold_scoring``'s values)."""
        if self.cold_scoring is None:
            raise ValueError(f"{type(self).__name__} has no text tower: it cannot score cold users or items")
        self.cold_scoring.choose(choice)
        self._reset_cache()

    def scoring_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user, item)`` embeddings that scores are made of: :meth:`forward`'s,
        with the rows of cold nodes from their text (``cold_scoring``)."""
        if self.cold_scoring is None or self.cold_scoring.choice == "cf":
            return self.forward()
        final = self.cold_scoring(torch.cat(self.forward()))
        user_e, item_e = torch.split(final, [self.n_users, self.n_items])
        return user_e, item_e

    def predict(self, interaction):
        user = interaction[self.USER_ID]
        item = interaction[self.ITEM_ID]
        user_e, item_e = self.scoring_embeddings()
        return (user_e[user] * item_e[item]).sum(dim=1)

    def full_sort_predict(self, interaction):
        user = interaction[self.USER_ID]
        if self.restore_user_e is None or self.restore_item_e is None:
            self.restore_user_e, self.restore_item_e = self.scoring_embeddings()
        scores = self.restore_user_e[user] @ self.restore_item_e.T
        return scores.view(-1)
