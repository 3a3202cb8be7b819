r"""
IRLLRec
################################################

Reference:
    Yu Wang, Lei Sang, Yi Zhang, Yiwen Zhang. "Intent Representation Learning with
    Large Language Model for Recommendation." in SIGIR 2025 (arXiv:2502.03307).

A graph backbone (config ``backbone``: LightGCN, SGL, SimGCL, DCCF, BIGCF)
learns interaction embeddings; LLM-written profile and intent texts, embedded
once and loaded as RecBole atomic features, are mapped by two MLP towers into
the same space and aligned with the graph side
(:mod:`recbole_irllrec.model.alignment`):

- kd (profile alignment, RLMRec-Con): InfoNCE between final CF embeddings and
  the profile tower's output.
- PA (pairwise alignment): InfoNCE between interaction intents ``r`` (from the
  intent-aware adaptive graph) and the intent tower's output ``z``.
- TA (translation alignment): InfoNCE from noisy ``z`` to noisy CF embeddings.
- ITM (interaction-text matching): soft targets from an EMA teacher of the
  intent tower, plus a 0.4 share of the weighted TA term (as the reference).

TA and ITM work on every backbone (the reference has them on LightGCN only).
With DCCF and BIGCF, PA weighs intents with the backbone's own prototypes
(``dccf_intent_num`` / ``bigcf_intent_num`` of them) and ``intent_num`` is unused.
The intent tower runs once per batch, over the union of the rows PA, TA and
ITM read. The defaults (``properties/model/IRLLRec.yaml``) compute what the
reference computes; ``properties/scalable.yaml`` makes a batch O(batch).
"""

from __future__ import annotations

import torch

from recbole_irllrec.data.text_features import INTENT_COLUMNS, PROFILE_COLUMNS
from recbole_irllrec.model.alignment import (
    TEXT_INPUT_KEYS,
    AlignScope,
    Candidates,
    PairwiseAlignment,
    ProfileAlignment,
    Rows,
    TextMatching,
    TranslationAlignment,
    keys_of,
    text_batch_size,
)
from recbole_irllrec.model.cold import ColdScoring
from recbole_irllrec.model.graph_text import GraphTextRecommender

INTENT_WEIGHTS = ("kd_int_weight", "kd_int_weight_2", "kd_int_weight_3")  # PA, TA, ITM


class IRLLRec(GraphTextRecommender):
    r"""IRLLRec on any graph backbone: BPR plus profile alignment, PA, TA and ITM."""

    READS_TEXT_KEYS = keys_of(
        *TEXT_INPUT_KEYS, Candidates, ProfileAlignment, PairwiseAlignment, AlignScope, TranslationAlignment,
        TextMatching, ColdScoring,
    )

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.text_batch_size = text_batch_size(config)
        self.candidates = Candidates(config, self.n_users)
        self.profile_alignment = None
        if config["kd_weight"]:
            self.profile_alignment = ProfileAlignment(config, self.text_encoder(config, dataset, "profile"))
        self.intent_text = None
        if any(config[key] for key in INTENT_WEIGHTS):
            self.intent_text = self.text_encoder(config, dataset, "intent")
        self.pairwise_alignment = None
        if config["kd_int_weight"]:
            # DCCF's and BIGCF's prototypes serve PA too (as the authors' BIGCF variant): none of its own
            shared = self.backbone.intent_prototypes if self.backbone.INTENT_NUM_KEY else None
            self.pairwise_alignment = PairwiseAlignment(config, self.n_users, self.backbone.edge_index, shared)
        self.align_scope = AlignScope(config, self.n_users, self.real_nodes)
        self.translation_alignment = TranslationAlignment(config) if config["kd_int_weight_2"] else None
        self.text_matching = None
        if config["kd_int_weight_3"]:
            self.text_matching = TextMatching(config, self.intent_text.tower)
        profile = self.profile_alignment.text if self.profile_alignment is not None else None
        self.cold_scoring = self.cold_scorer(config, {"intent": self.intent_text, "profile": profile})

    @classmethod
    def text_columns(cls, config) -> tuple[str, ...]:
        return (PROFILE_COLUMNS if config["kd_weight"] else ()) + (
            INTENT_COLUMNS if any(config[key] for key in INTENT_WEIGHTS) else ()
        )

    @classmethod
    def unread_keys(cls, config, keys) -> dict[str, str]:
        keys = list(keys)
        unread = super().unread_keys(config, keys)
        encoder = cls.backbone_class(config)
        if encoder.INTENT_NUM_KEY and "intent_num" in keys:
            unread["intent_num"] = (
                f"the {config['backbone']} backbone lends PA its own intent prototypes; "
                f"their number is {encoder.INTENT_NUM_KEY}"
            )
        return unread

    def calculate_loss(self, interaction):
        self._reset_cache()
        output = self.backbone()
        batch = self.batch_of(interaction)
        loss = self.cf_loss(batch, output)
        batch = batch.head(self.text_batch_size)  # the triples the text terms read
        candidates = self.candidates(batch)
        if self.profile_alignment is not None:
            loss = loss + self.profile_alignment(output.final, batch, candidates)
        if self.intent_text is None:
            return loss

        # the intent tower once per batch, over every row PA, TA and ITM read
        scope = self.align_scope(batch)
        rows = [scope]
        if self.pairwise_alignment is not None:
            rows.append(self.pairwise_alignment.rows(batch, candidates))
        rows = torch.unique(torch.cat(rows))
        hidden = None
        if rows.numel() == self.real_nodes.numel():
            # every node (the reference's scopes): no row gather, and ITM's teacher follows the student
            hidden, z = self.intent_text.with_hidden()
            intent = Rows(None, z)
        else:
            intent = Rows(rows, self.intent_text(rows))

        if self.pairwise_alignment is not None:
            loss = loss + self.pairwise_alignment(output.layers, intent, batch, candidates)
        ta = 0.0
        if self.translation_alignment is not None:
            ta = self.translation_alignment(intent, output.final, scope)
            loss = loss + ta
        if self.text_matching is not None:
            loss = loss + self.text_matching(intent, self.intent_text, scope, ta, hidden)
        return loss
