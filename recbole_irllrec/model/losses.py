"""Loss terms of IRLLRec.

Every function returns a scalar; the weights are applied by the model. The
InfoNCE forms follow the reference implementation: cosine similarity with a
temperature, summed over the anchors (the caller divides by the batch size).
"""
from __future__ import annotations

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


def info_nce_sum(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    candidates: torch.Tensor,
    temperature: float,
    anchor_counts: torch.Tensor | None = None,
    candidate_counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE of each anchor against its positive, with ``candidates`` as the
    denominator; cosine similarity, summed over anchors.

    ``anchor_counts`` / ``candidate_counts`` stand for repeated rows: a row with
    count k counts k times, exactly as if it were repeated (in-batch terms are
    computed over distinct ids, which is several times cheaper than B x B).
    """
    a, p, c = _unit(anchors), _unit(positives), _unit(candidates)
    logits = a @ c.T / temperature
    if candidate_counts is not None:
        logits = logits + candidate_counts.to(logits.dtype).log()
    per_anchor = torch.logsumexp(logits, dim=-1) - (a * p).sum(-1) / temperature
    if anchor_counts is not None:
        per_anchor = per_anchor * anchor_counts.to(per_anchor.dtype)
    return per_anchor.sum()


class _ChunkedInfoNCE(torch.autograd.Function):
    """Mean over rows v of ``logsumexp_w(x_v . y_w / t) - x_v . y_v / t``.

    The ``[n, n]`` similarity matrix is built ``chunk`` rows at a time in the
    forward and rebuilt chunk by chunk in the backward, so memory stays
    O(chunk x n) whatever n is (autograd would keep every chunk alive).
    """

    @staticmethod
    def forward(ctx, x, y, temperature, chunk):
        n = x.shape[0]
        lse = torch.empty(n, dtype=x.dtype, device=x.device)
        for start in range(0, n, chunk):
            logits = x[start : start + chunk] @ y.T / temperature
            lse[start : start + chunk] = torch.logsumexp(logits, dim=1)
        diag = (x * y).sum(-1) / temperature
        ctx.save_for_backward(x, y, lse)
        ctx.temperature, ctx.chunk = temperature, chunk
        return (lse - diag).mean()

    @staticmethod
    def backward(ctx, grad_out):
        x, y, lse = ctx.saved_tensors
        t, chunk, n = ctx.temperature, ctx.chunk, x.shape[0]
        scale = grad_out / (n * t)
        grad_x = torch.empty_like(x)
        grad_y = torch.zeros_like(y)
        for start in range(0, n, chunk):
            stop = start + chunk
            logits = x[start:stop] @ y.T / t
            prob = torch.exp(logits - lse[start:stop, None])
            grad_x[start:stop] = prob @ y
            grad_y += prob.T @ x[start:stop]
        grad_x = (grad_x - y) * scale
        grad_y = (grad_y - x) * scale
        return grad_x, grad_y, None, None


def chunked_info_nce_mean(
    x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0, chunk: int = 4096
) -> torch.Tensor:
    """One-directional InfoNCE between rows of ``x`` and ``y`` (row v of ``y``
    is the positive of row v of ``x``, every row of ``y`` a candidate), cosine
    similarity, mean over rows, in O(chunk x n) memory."""
    return _ChunkedInfoNCE.apply(_unit(x), _unit(y), float(temperature), int(chunk))


def translation_alignment(
    intent: torch.Tensor, interaction: torch.Tensor, temperature: float = 1.0, chunk: int = 4096
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
    """SGL / SimGCL view contrast: InfoNCE between two views of the batch's
    distinct users and distinct positive items (the other view's rows of the same
    nodes are the candidates), summed and divided by the batch size."""
    loss = view1.new_zeros(())
    for nodes in (torch.unique(user), torch.unique(pos) + n_users):
        loss = loss + info_nce_sum(view1[nodes], view2[nodes], view2[nodes], temperature)
    return loss / user.shape[0]
