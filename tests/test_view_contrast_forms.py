"""SGL's and SimGCL's view contrast in both forms (``sgl_form`` / ``simgcl_form``),
against losses computed by hand on a tiny graph with fixed drop masks and noise."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from conftest import METRICS, TINY, count_backbone_calls, tiny_config
from recbole_irllrec.model.backbones import BACKBONES, SGLEncoder, SimGCLEncoder
from recbole_irllrec.model.graph import bipartite_edges
from recbole_irllrec.quick_start import run_recbole_irllrec

# 3 user ids (0 is RecBole's padding) and 4 item ids (0 padding): nodes 0..2 users, 3..6 items
N_USERS, N_ITEMS, D, TAU, EPS = 3, 4, 4, 0.5, 0.3
INTERACTIONS = [(1, 1), (1, 2), (2, 2), (2, 3)]
USER, POS, NEG = torch.tensor([1, 1, 2]), torch.tensor([1, 2, 3]), torch.tensor([3, 3, 1])


def _config(**keys):
    config = {"embedding_size": D, "n_layers": 2, "layer_combine": "sum"}
    config.update(keys)
    return config


def _edges():
    rows, cols = zip(*INTERACTIONS)
    return bipartite_edges(sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(N_USERS, N_ITEMS)), N_USERS)


def _ego():
    torch.manual_seed(0)
    return torch.randn(N_USERS + N_ITEMS, D)


def _dense_adjacency(interactions):
    """D^-1/2 A D^-1/2 of the undirected interactions, written out."""
    a = torch.zeros(N_USERS + N_ITEMS, N_USERS + N_ITEMS)
    for u, i in interactions:
        a[u, N_USERS + i] = a[N_USERS + i, u] = 1.0
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return inv[:, None] * a * inv[None, :]


def _unit(x):
    return x / torch.sqrt(1e-8 + (x * x).sum(-1, keepdim=True))


def _info_nce(view1, view2, anchors, candidates):
    """sum over anchor rows of logsumexp_c(cos(a, c) / tau) - cos(a, a') / tau."""
    a, p, c = _unit(view1[anchors]), _unit(view2[anchors]), _unit(view2[candidates])
    return (torch.logsumexp(a @ c.T / TAU, dim=1) - (a * p).sum(-1) / TAU).sum()


ALL_USERS, ALL_ITEMS = torch.arange(1, N_USERS), torch.arange(N_USERS + 1, N_USERS + N_ITEMS)


def _expected(view1, view2, form, negatives):
    """The contrast of both forms, written out (weight 1, batch of 3)."""
    pos, neg = POS + N_USERS, NEG + N_USERS
    if form == "reference":  # one anchor per batch row, every real user / item a candidate
        loss = _info_nce(view1, view2, USER, ALL_USERS) + _info_nce(view1, view2, pos, ALL_ITEMS)
        if negatives:
            loss = loss + _info_nce(view1, view2, neg, ALL_ITEMS)
    else:  # distinct users / positives, against the same distinct nodes
        users, items = USER.unique(), pos.unique()
        loss = _info_nce(view1, view2, users, users) + _info_nce(view1, view2, items, items)
    return loss / len(USER)


# ---------------------------------------------------------------- SGL
KEPT = [  # interactions each drawn view keeps, in drawing order
    [(1, 1), (2, 2), (2, 3)],
    [(1, 2), (2, 3)],
    [(1, 1), (1, 2), (2, 3)],
    [(1, 1), (2, 2)],
]


def _sgl(form, monkeypatch):
    enc = SGLEncoder(
        _config(sgl_aug_type="ED", sgl_drop_ratio=0.25, sgl_ssl_tau=TAU, sgl_ssl_weight=1.0, sgl_form=form),
        N_USERS, N_ITEMS, _edges(),
    )
    queue = list(KEPT)

    def fixed_edge_dropout():
        # fixed drop masks: each draw keeps the next listed interactions (normalised by the encoder)
        kept = torch.tensor(queue.pop(0)).T + torch.tensor([[0], [N_USERS]])  # items shifted to node ids
        return enc._adjacency(kept)

    monkeypatch.setattr(enc, "_edge_dropout", fixed_edge_dropout)
    return enc, queue


def _sgl_view(ego, kept):
    adj = _dense_adjacency(kept)
    e1 = adj @ ego
    return ego + e1 + adj @ e1  # sum of layers 0..2


@pytest.mark.parametrize("form", ["batch", "reference"])
def test_sgl_contrast_equals_hand_computation(form, monkeypatch):
    enc, queue = _sgl(form, monkeypatch)
    ego = _ego()
    enc.train()  # the batch form draws this epoch's two views here; the reference form draws none
    assert len(queue) == (2 if form == "batch" else 4)
    out = enc(ego)
    first = enc.backbone_loss(USER, POS, NEG, out)
    second = enc.backbone_loss(USER, POS, NEG, out)
    if form == "batch":  # one pair of views for the epoch
        expected = _expected(_sgl_view(ego, KEPT[0]), _sgl_view(ego, KEPT[1]), form, negatives=True)
        assert first.item() == pytest.approx(expected.item(), abs=1e-6)
        assert second.item() == pytest.approx(expected.item(), abs=1e-6)
    else:  # two new views for every batch
        assert not queue
        for loss, (k1, k2) in ((first, KEPT[0:2]), (second, KEPT[2:4])):
            expected = _expected(_sgl_view(ego, k1), _sgl_view(ego, k2), form, negatives=True)
            assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


# ---------------------------------------------------------------- SimGCL
def _noise():
    torch.manual_seed(1)
    return [torch.rand(N_USERS + N_ITEMS, D) for _ in range(4)]  # view 1 layers 1, 2; view 2 layers 1, 2


def _simgcl_view(ego, adj, noise, with_ego):
    layers = [ego]
    for n in noise:
        e = adj @ layers[-1]
        layers.append(e + torch.sign(e) * n / n.norm(dim=1, keepdim=True) * EPS)
    return sum(layers if with_ego else layers[1:])


@pytest.mark.parametrize("form", ["batch", "reference"])
def test_simgcl_contrast_equals_hand_computation(form, monkeypatch):
    enc = SimGCLEncoder(
        _config(simgcl_eps=EPS, simgcl_cl_tau=TAU, simgcl_cl_weight=1.0, simgcl_form=form), N_USERS, N_ITEMS, _edges()
    )
    ego, noise = _ego(), _noise()
    queue = list(noise)
    real_rand_like = torch.rand_like

    def fixed_rand_like(x, *args, **kwargs):  # the next listed noise
        assert x.shape == queue[0].shape
        return queue.pop(0)

    out = enc(ego)
    monkeypatch.setattr(torch, "rand_like", fixed_rand_like)
    loss = enc.backbone_loss(USER, POS, NEG, out)
    monkeypatch.setattr(torch, "rand_like", real_rand_like)
    assert not queue
    adj = _dense_adjacency(INTERACTIONS)
    with_ego = form == "reference"
    view1, view2 = _simgcl_view(ego, adj, noise[:2], with_ego), _simgcl_view(ego, adj, noise[2:], with_ego)
    assert loss.item() == pytest.approx(_expected(view1, view2, form, negatives=False).item(), abs=1e-6)


# ---------------------------------------------------------------- config and end to end
@pytest.mark.parametrize("encoder, key", [(SGLEncoder, "sgl_form"), (SimGCLEncoder, "simgcl_form")])
def test_unknown_form_is_refused(encoder, key):
    config = _config(sgl_aug_type="ED", sgl_drop_ratio=0.2, sgl_ssl_tau=TAU, sgl_ssl_weight=1.0, simgcl_eps=EPS,
                     simgcl_cl_tau=TAU, simgcl_cl_weight=1.0, sgl_form="batch", simgcl_form="batch")
    config[key] = "recbole"
    with pytest.raises(ValueError, match=key):
        encoder(config, N_USERS, N_ITEMS, _edges())


@pytest.mark.parametrize("backbone, key", [("SGL", "sgl_form"), ("SimGCL", "simgcl_form")])
@pytest.mark.parametrize("model", ["GraphCF", "IRLLRec"])
def test_reference_form_end_to_end(tiny_data, tmp_path, monkeypatch, backbone, key, model):
    encoder = BACKBONES[backbone]
    calls = count_backbone_calls(monkeypatch, encoder)
    config = tiny_config(tiny_data, tmp_path, backbone=backbone, epochs=2, **{key: "reference"})
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=config)
    assert set(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())
    assert calls["loss"] >= 2
    if backbone == "SGL":
        assert calls["resample"] == calls["loss"]  # new views for every batch, none per epoch or for evaluation
