r"""
RLMRec-Con and RLMRec-Gen
################################################

Reference:
    Xubin Ren, Wei Wei, Lianghao Xia, Lixin Su, Suqi Cheng, Junfeng Wang, Dawei Yin,
    Chao Huang. "Representation Learning with Large Language Models for
    Recommendation." in WWW 2024.

Both align a graph backbone (config ``backbone``) with LLM-written profiles:

- RLMRec-Con: contrastive alignment (InfoNCE, ``kd_weight``, ``kd_temperature``)
  between final CF embeddings and a profile tower's output.
- RLMRec-Gen: a ``mask_ratio`` share of nodes get a learned mask token instead of
  their ego embedding; BPR trains on the masked propagation, and a decoder maps
  the masked nodes' final embeddings back to their profile vectors (InfoNCE,
  ``recon_weight``, ``re_temperature``).
"""

from __future__ import annotations

import torch

from recbole_irllrec.data.text_features import PROFILE_COLUMNS, load_text_matrices
from recbole_irllrec.model.alignment import (
    TEXT_INPUT_KEYS,
    Candidates,
    ProfileAlignment,
    ProfileReconstruction,
    keys_of,
    text_batch_size,
)
from recbole_irllrec.model.cold import ColdScoring
from recbole_irllrec.model.graph_text import GraphTextRecommender


class RLMRecCon(GraphTextRecommender):
    r"""RLMRec-Con: the backbone plus contrastive profile alignment."""

    READS_TEXT_KEYS = keys_of(*TEXT_INPUT_KEYS, Candidates, ProfileAlignment, ColdScoring)

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.text_batch_size = text_batch_size(config)
        self.candidates = Candidates(config, self.n_users)
        self.profile_alignment = None
        if config["kd_weight"]:
            self.profile_alignment = ProfileAlignment(config, self.text_encoder(config, dataset, "profile"))
        profile = self.profile_alignment.text if self.profile_alignment is not None else None
        self.cold_scoring = self.cold_scorer(config, {"profile": profile})

    @classmethod
    def text_columns(cls, config) -> tuple[str, ...]:
        return PROFILE_COLUMNS if config["kd_weight"] else ()

    def calculate_loss(self, interaction):
        self._reset_cache()
        batch = self.batch_of(interaction)
        output = self.backbone()
        loss = self.cf_loss(batch, output)
        if self.profile_alignment is not None:
            batch = batch.head(self.text_batch_size)
            loss = loss + self.profile_alignment(output.final, batch, self.candidates(batch))
        return loss


class RLMRecGen(GraphTextRecommender):
    r"""RLMRec-Gen: the backbone plus masked reconstruction of profile vectors."""

    READS_TEXT_KEYS = keys_of(ProfileReconstruction)

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.profile_reconstruction = None
        if config["recon_weight"]:
            text = load_text_matrices(config, dataset, PROFILE_COLUMNS)
            profile = torch.cat([text[column] for column in PROFILE_COLUMNS])
            self.profile_reconstruction = ProfileReconstruction(config, profile)

    @classmethod
    def text_columns(cls, config) -> tuple[str, ...]:
        return PROFILE_COLUMNS if config["recon_weight"] else ()

    def calculate_loss(self, interaction):
        self._reset_cache()
        batch = self.batch_of(interaction)
        if self.profile_reconstruction is None:
            return self.cf_loss(batch, self.backbone())
        # BPR trains on the masked graph; the decoder reconstructs the masked nodes' profiles
        ego, seeds = self.profile_reconstruction.mask(self.backbone.ego_embeddings(), self.real_nodes)
        output = self.backbone(ego)
        return self.cf_loss(batch, output) + self.profile_reconstruction(output.final, seeds)
