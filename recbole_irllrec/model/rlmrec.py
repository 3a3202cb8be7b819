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

from recbole_irllrec.model.graph_text import GraphTextRecommender


class RLMRecCon(GraphTextRecommender):
    r"""RLMRec-Con: the backbone plus contrastive profile alignment."""

    TERMS = frozenset({"kd"})


class RLMRecGen(GraphTextRecommender):
    r"""RLMRec-Gen: the backbone plus masked reconstruction of profile vectors."""

    TERMS = frozenset({"gen"})
