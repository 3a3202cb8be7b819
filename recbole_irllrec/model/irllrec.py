r"""
IRLLRec
################################################

Reference:
    Yu Wang, Lei Sang, Yi Zhang, Yiwen Zhang. "Intent Representation Learning with
    Large Language Model for Recommendation." in SIGIR 2025 (arXiv:2502.03307).

A graph backbone (config ``backbone``: LightGCN, SGL, SimGCL, DCCF, BIGCF)
learns interaction embeddings; LLM-written profile and intent texts, embedded
once and loaded as RecBole atomic features, are mapped by two MLP towers into
the same space and aligned with the graph side:

- kd (profile alignment, RLMRec-Con): InfoNCE between final CF embeddings and
  the profile tower's output.
- PA (pairwise alignment): InfoNCE between interaction intents ``r`` (from the
  intent-aware adaptive graph) and the intent tower's output ``z``.
- TA (translation alignment): InfoNCE from noisy ``z`` to noisy CF embeddings.
- ITM (interaction-text matching): soft targets from an EMA teacher of the
  intent tower, plus a 0.4 share of the weighted TA term (as the reference).

TA and ITM work on every backbone (the reference has them on LightGCN only).
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
"""

from __future__ import annotations

from recbole_irllrec.model.graph_text import GraphTextRecommender


class IRLLRec(GraphTextRecommender):
    r"""IRLLRec on any graph backbone: BPR plus profile alignment, PA, TA and ITM."""

    TERMS = frozenset({"kd", "pa", "ta", "itm"})
