"""Each loss term against a small case computed by hand."""
import math

import torch

from recbole_irllrec.model.losses import (
    bpr_loss,
    chunked_info_nce_mean,
    info_nce_sum,
    l2_norm_sq,
    soft_target_cross_entropy,
    translation_alignment,
)


def test_bpr_is_mean_softplus_of_score_gap():
    loss = bpr_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))
    expected = (math.log(1 + math.exp(-2)) + math.log(2)) / 2
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)


def test_l2_norm_sq_sums_squares():
    assert l2_norm_sq([torch.tensor([3.0, 4.0]), torch.tensor([[1.0]])]).item() == 26.0


def test_info_nce_sum_uses_cosine_and_temperature():
    # anchor (2,0) is parallel to its positive (5,0) and orthogonal to the other candidate
    anchors = torch.tensor([[2.0, 0.0]])
    positives = torch.tensor([[5.0, 0.0]])
    candidates = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    loss = info_nce_sum(anchors, positives, candidates, temperature=0.5)
    expected = math.log(math.exp(2) + math.exp(0)) - 2  # cos 1 and 0, over t = 0.5
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)
    # summed, not averaged, over anchors
    twice = info_nce_sum(anchors.repeat(2, 1), positives.repeat(2, 1), candidates, temperature=0.5)
    assert math.isclose(twice.item(), 2 * expected, rel_tol=1e-5)


def test_chunked_info_nce_matches_hand_value_and_dense_form():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    # row v's positive is y_v; cos(x_0, y_0) = 1, cos(x_0, y_1) = 0 and symmetric
    loss = chunked_info_nce_mean(x, x.clone(), temperature=1.0, chunk=1)
    assert math.isclose(loss.item(), math.log(math.e + 1) - 1, rel_tol=1e-6)

    torch.manual_seed(0)
    a, b = torch.randn(37, 5), torch.randn(37, 5)
    dense = info_nce_sum(a, b, b, temperature=0.7) / 37
    for chunk in (1, 8, 100):
        assert torch.allclose(chunked_info_nce_mean(a, b, 0.7, chunk), dense, atol=1e-6)


def test_chunked_info_nce_gradient_is_exact():
    torch.manual_seed(1)
    x = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: chunked_info_nce_mean(a, b, 0.3, 4), (x, y))


def test_translation_alignment_noise_is_multiplicative_standard_normal():
    torch.manual_seed(2)
    z, e = torch.randn(6, 3), torch.randn(6, 3)
    torch.manual_seed(5)
    loss = translation_alignment(z, e, temperature=1.0, chunk=2)
    torch.manual_seed(5)
    z_noisy = z * (1 + torch.randn_like(z))
    e_noisy = e * (1 + torch.randn_like(e))
    assert torch.allclose(loss, info_nce_sum(z_noisy, e_noisy, e_noisy, 1.0) / 6, atol=1e-6)


def test_soft_target_cross_entropy_by_hand():
    student = torch.tensor([[0.0, math.log(3.0)]])  # softmax (0.25, 0.75)
    teacher = torch.tensor([[1.0, 1.0]])  # uniform target
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert math.isclose(soft_target_cross_entropy(student, teacher).item(), expected, rel_tol=1e-6)


def test_counted_rows_equal_repeated_rows():
    torch.manual_seed(3)
    a, p, c = torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 3)
    counts = torch.tensor([1, 3, 2, 1])
    c_counts = torch.tensor([2, 1, 1, 4, 1])
    repeated = info_nce_sum(
        a.repeat_interleave(counts, 0), p.repeat_interleave(counts, 0), c.repeat_interleave(c_counts, 0), 0.2
    )
    counted = info_nce_sum(a, p, c, 0.2, anchor_counts=counts, candidate_counts=c_counts)
    assert torch.allclose(repeated, counted, rtol=1e-5)


def test_info_nce_gradient_is_exact_with_counts_and_chunks():
    torch.manual_seed(4)
    a = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    p = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    counts, c_counts = torch.tensor([1, 3, 2, 1, 1, 2, 1]), torch.tensor([2, 1, 1, 4, 1])
    assert torch.autograd.gradcheck(lambda x, y, z: info_nce_sum(x, y, z, 0.3, counts, c_counts, chunk=3), (a, p, c))
    # the same tensor as positives and candidates gets both gradients
    assert torch.autograd.gradcheck(lambda x, y: info_nce_sum(x, y, y, 0.5, chunk=2), (a, p))


def test_info_nce_without_grad_needs_no_gradient_buffers():
    a, p = torch.randn(4, 3), torch.randn(4, 3)
    with torch.no_grad():
        loss = info_nce_sum(a, p, p, 0.2)
    assert loss.grad_fn is None and torch.isfinite(loss)
