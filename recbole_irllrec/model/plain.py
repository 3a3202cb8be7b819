r"""
Plain graph backbones: GraphCF (any backbone), DCCF and BIGCF
################################################

The backbone alone, with BPR, L2 and its own losses and no text: the baseline
each text-aware variant is compared with, built from the same encoder, the same
initialisation and the same layer combination. RecBole ships LightGCN, SGL and
SimGCL itself; ``GraphCF`` with ``backbone: LightGCN`` is the reference's
LightGCN (sum of layers, xavier initialisation, L2 on all parameters).

References:
    DCCF: Xubin Ren, Lianghao Xia, Jiashu Zhao, Dawei Yin, Chao Huang.
    "Disentangled Contrastive Collaborative Filtering." in SIGIR 2023.
    BIGCF: Yi Zhang, Lei Sang, Yiwen Zhang. "Exploring the Individuality and
    Collectivity of Intents behind Interactions for Graph Collaborative
    Filtering." in SIGIR 2024.
"""

from __future__ import annotations

from recbole_irllrec.model.graph_text import GraphTextRecommender


class GraphCF(GraphTextRecommender):
    r"""Any backbone of :data:`recbole_irllrec.model.backbones.BACKBONES` on its own."""


class DCCF(GraphCF):
    r"""DCCF as a plain recommender (``backbone`` is always DCCF)."""

    BACKBONE = "DCCF"


class BIGCF(GraphCF):
    r"""BIGCF as a plain recommender (``backbone`` is always BIGCF)."""

    BACKBONE = "BIGCF"
