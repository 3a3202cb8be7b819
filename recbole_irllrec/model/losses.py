"""Loss terms of IRLLRec.

Every function returns a scalar; the weights are applied by the model. The
InfoNCE forms follow the reference implementation: cosine similarity with a
temperature, summed over the anchors (the caller divides by the batch size).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking, averaged over the batch."""
    return F.softplus(neg_scores - pos_scores).mean()


def l2_norm_sq(tensors) -> torch.Tensor:
    """Sum of the squared L2 norms of ``tensors``."""
    return sum(t.pow(2).sum() for t in tensors)


def _unit(x: torch.Tensor) -> torch.Tensor:
    # the reference's normalisation: eps inside the square root
    return x / torch.sqrt(1e-8 + x.pow(2).sum(-1, keepdim=True))


class _InfoNCE(torch.autograd.Function):
    """``sum_v w_v (log sum_u exp(a_v . c_u + b_u) - a_v . p_v)`` in one pass.

    Anchors are taken ``chunk`` rows at a time, so memory stays O(chunk x m)
    for m candidates. The loss is a scalar, so its gradients are computed in
    the same pass from the same exponentials (no second pass rebuilding the
    logits in the backward) and only scaled there.
    """

    @staticmethod
    def forward(ctx, anchors, positives, candidates, anchor_weight, candidate_bias, chunk):
        need_grad = any(ctx.needs_input_grad[:3])
        total = anchors.new_zeros(())
        grad_a = torch.empty_like(anchors) if need_grad else None
        grad_c = torch.zeros_like(candidates) if need_grad else None
        for start in range(0, anchors.shape[0], chunk):
            a = anchors[start : start + chunk]
            w = anchor_weight[start : start + chunk]
            logits = a @ candidates.T
            if candidate_bias is not None:
                logits += candidate_bias
            top = logits.amax(dim=1, keepdim=True)
            exp = logits.sub_(top).exp_()  # in place: one [chunk, m] buffer
            denom = exp.sum(dim=1, keepdim=True)
            lse = (denom.log() + top).squeeze(1)
            total = total + (w * (lse - (a * positives[start : start + chunk]).sum(-1))).sum()
            if need_grad:
                prob = exp.mul_(w[:, None] / denom)  # w_v softmax_vu, in place
                grad_a[start : start + chunk] = prob @ candidates
                grad_c.addmm_(prob.T, a)
        if need_grad:
            grad_a -= anchor_weight[:, None] * positives
            ctx.save_for_backward(grad_a, -anchor_weight[:, None] * anchors, grad_c)
        return total

    @staticmethod
    def backward(ctx, grad_out):
        grad_a, grad_p, grad_c = ctx.saved_tensors
        return grad_a * grad_out, grad_p * grad_out, grad_c * grad_out, None, None, None


def info_nce_sum(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    candidates: torch.Tensor,
    temperature: float,
    anchor_counts: torch.Tensor | None = None,
    candidate_counts: torch.Tensor | None = None,
    chunk: int = 1024,
) -> torch.Tensor:
    """InfoNCE of each anchor against its positive, with ``candidates`` as the
    denominator; cosine similarity, summed over anchors.

    ``anchor_counts`` / ``candidate_counts`` stand for repeated rows: a row with
    count k counts k times, exactly as if it were repeated (in-batch terms are
    computed over distinct ids, which is several times cheaper than B x B).
    Memory is O(``chunk`` x candidates).
    """
    # the temperature divides the [n, d] anchors, not the [n, m] logits
    a, p, c = _unit(anchors) / temperature, _unit(positives), _unit(candidates)
    weight = a.new_ones(a.shape[0]) if anchor_counts is None else anchor_counts.to(a.dtype)
    bias = None if candidate_counts is None else candidate_counts.to(a.dtype).log()
    return _InfoNCE.apply(a, p, c, weight, bias, int(chunk))


def chunked_info_nce_mean(
    x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0, chunk: int = 1024
) -> torch.Tensor:
    """One-directional InfoNCE between rows of ``x`` and ``y`` (row v of ``y``
    is the positive of row v of ``x``, every row of ``y`` a candidate), cosine
    similarity, mean over rows, in O(chunk x n) memory."""
    return info_nce_sum(x, y, y, temperature, chunk=chunk) / x.shape[0]


def translation_alignment(
    intent: torch.Tensor, interaction: torch.Tensor, temperature: float = 1.0, chunk: int = 1024
) -> torch.Tensor:
    """TA: multiplicative Gaussian noise on both sides (``x * (1 + eps)``,
    eps ~ N(0, 1) as in the reference), then InfoNCE from intent to interaction
    embeddings."""
    noisy_intent = intent * (1 + torch.randn_like(intent))
    noisy_interaction = interaction * (1 + torch.randn_like(interaction))
    return chunked_info_nce_mean(noisy_intent, noisy_interaction, temperature, chunk)


def soft_target_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``log_softmax(student)`` against ``softmax(teacher)``
    over the last dimension, mean over rows (ITM's matching term)."""
    target = F.softmax(teacher_logits, dim=-1)
    return -(target * F.log_softmax(student_logits, dim=-1)).sum(-1).mean()


def two_view_info_nce(
    view1: torch.Tensor, view2: torch.Tensor, user: torch.Tensor, pos: torch.Tensor, n_users: int, temperature: float
) -> torch.Tensor:
    """SGL / SimGCL view contrast, ``batch`` form: InfoNCE between two views of
    the batch's distinct users and distinct positive items (the other view's rows
    of the same nodes are the candidates), summed and divided by the batch size."""
    loss = view1.new_zeros(())
    for nodes in (torch.unique(user), torch.unique(pos) + n_users):
        loss = loss + info_nce_sum(view1[nodes], view2[nodes], view2[nodes], temperature)
    return loss / user.shape[0]


def full_view_info_nce(
    view1: torch.Tensor,
    view2: torch.Tensor,
    groups: Sequence[tuple[torch.Tensor, torch.Tensor]],
    temperature: float,
    batch_size: int,
) -> torch.Tensor:
    """SGL / SimGCL view contrast, ``reference`` form (the IRLLRec authors'
    ``sgl_int.py`` / ``simgcl_int.py``): for every ``(anchors, candidates)``
    group, InfoNCE of the view-1 rows of ``anchors`` (one per batch row,
    repeats counted) against their own view-2 rows, with the view-2 rows of
    every ``candidates`` node in the denominator; summed over groups and
    divided by ``batch_size``."""
    loss = view1.new_zeros(())
    for anchors, candidates in groups:
        nodes, counts = torch.unique(anchors, return_counts=True)
        loss = loss + info_nce_sum(
            view1.index_select(0, nodes), view2.index_select(0, nodes), view2.index_select(0, candidates),
            temperature, anchor_counts=counts,
        )
    return loss / batch_size
