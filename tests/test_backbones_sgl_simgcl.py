"""SGL and SimGCL backbones: views, their losses, per-epoch resampling, end to end."""
import math

import pytest
import torch

from conftest import METRICS, TINY, count_backbone_calls, model_config_batch, tiny_config
from recbole_irllrec.model.backbones import BACKBONES, LightGCNEncoder
from recbole_irllrec.quick_start import run_recbole_irllrec

def _model_and_batch(tiny_data, tmp_path, backbone, model="GraphCF", **overrides):
    config, recommender, batch = model_config_batch(tiny_data, tmp_path, model, backbone=backbone, **overrides)
    return recommender, batch, config


def _ids(batch):
    return batch["user_id"], batch["item_id"], batch["neg_item_id"]


def test_registered():
    assert BACKBONES["SGL"].__name__ == "SGLEncoder" and BACKBONES["SimGCL"].__name__ == "SimGCLEncoder"


@pytest.mark.parametrize("backbone", ["SGL", "SimGCL"])
def test_defaults_come_from_property_file(tiny_data, tmp_path, backbone):
    model, _, config = _model_and_batch(tiny_data, tmp_path, backbone)
    if backbone == "SGL":
        assert (config["sgl_aug_type"], config["sgl_drop_ratio"]) == ("ED", 0.2)
        assert (config["sgl_ssl_tau"], config["sgl_ssl_weight"]) == (0.2, 0.1)
    else:
        assert (config["simgcl_eps"], config["simgcl_cl_tau"], config["simgcl_cl_weight"]) == (0.9, 0.2, 0.1)


@pytest.mark.parametrize("backbone", ["SGL", "SimGCL"])
def test_forward_shapes_and_eval_equals_lightgcn(tiny_data, tmp_path, backbone):
    model, _, config = _model_and_batch(tiny_data, tmp_path, backbone)
    enc = model.backbone
    out = enc()
    assert out.final.shape == (model.n_nodes, config["embedding_size"])
    assert len(out.layers) == config["n_layers"] + 1
    plain = LightGCNEncoder(config, model.n_users, model.n_items, enc.edge_index)
    plain.load_state_dict(enc.state_dict())
    model.eval()
    assert torch.equal(enc().final, plain().final)
    model.train()  # training-mode forward is also the plain propagation (views only in the loss)
    assert torch.equal(enc().final, plain().final)


@pytest.mark.parametrize("backbone", ["SGL", "SimGCL"])
@pytest.mark.parametrize("aug", ["ED", "ND", "RW"])
def test_backbone_loss_finite_positive_with_gradient_into_ego(tiny_data, tmp_path, backbone, aug):
    if backbone == "SimGCL" and aug != "ED":
        pytest.skip("augmentation type is SGL's")
    model, batch, _ = _model_and_batch(tiny_data, tmp_path, backbone, sgl_aug_type=aug)
    model.train()
    enc = model.backbone
    ego = enc.ego_embeddings().detach().requires_grad_(True)
    loss = enc.backbone_loss(*_ids(batch), enc(ego))
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    assert ego.grad is not None and ego.grad.abs().sum() > 0
    # through the recommender it reaches the embedding tables
    model.zero_grad()
    model.calculate_loss(batch).backward()
    assert enc.user_embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("backbone", ["SGL", "SimGCL"])
def test_weight_zero_means_no_loss(tiny_data, tmp_path, backbone):
    model, batch, _ = _model_and_batch(tiny_data, tmp_path, backbone, sgl_ssl_weight=0.0, simgcl_cl_weight=0.0)
    model.train()
    assert model.backbone.backbone_loss(*_ids(batch), model.backbone()) is None


def test_sgl_views_resampled_per_epoch_not_per_batch(tiny_data, tmp_path):
    model, batch, _ = _model_and_batch(tiny_data, tmp_path, "SGL")
    enc = model.backbone
    model.train()
    views = enc.views
    ego = enc.ego_embeddings()
    first = enc.view_embeddings(ego)
    model.calculate_loss(batch)
    model.calculate_loss(batch)  # batches of one epoch share the views
    assert enc.views is views
    assert all(torch.equal(a, b) for a, b in zip(first, enc.view_embeddings(ego)))
    assert not torch.equal(first[0], first[1])  # the two views differ
    model.eval()  # evaluation does not resample
    assert enc.views is views
    model.train()  # the next epoch does
    assert enc.views is not views
    again = enc.view_embeddings(ego)
    assert not torch.equal(first[0], again[0]) and not torch.equal(first[1], again[1])


def test_sgl_edge_dropout_keeps_the_share_and_stays_symmetric(tiny_data, tmp_path):
    model, _, _ = _model_and_batch(tiny_data, tmp_path, "SGL", sgl_drop_ratio=0.5)
    enc = model.backbone
    n_interactions = enc.interactions.shape[1]
    assert 2 * n_interactions == enc.edge_index.shape[1]
    adj = enc._edge_dropout().to_dense()
    assert int((adj > 0).sum()) == 2 * int(n_interactions * 0.5)
    assert torch.allclose(adj, adj.T)


def test_sgl_views_follow_the_ego_passed_in(tiny_data, tmp_path):
    # RLMRec-Gen passes a masked ego: the loss must use it, not the stored tables
    model, batch, _ = _model_and_batch(tiny_data, tmp_path, "SGL")
    model.train()
    enc = model.backbone
    ego = enc.ego_embeddings().detach()
    a = enc.backbone_loss(*_ids(batch), enc(ego))
    b = enc.backbone_loss(*_ids(batch), enc(ego * 0.5 + 0.3))
    assert not torch.isclose(a, b)


def test_simgcl_eps_zero_views_equal_and_loss_is_log_n(tiny_data, tmp_path):
    # the batch form. eps = 0: both views are LightGCN's layers 1..L; with a huge
    # temperature every logit is ~0, so each anchor's InfoNCE is log(number of candidates)
    model, batch, _ = _model_and_batch(tiny_data, tmp_path, "SimGCL", simgcl_eps=0.0, simgcl_cl_tau=1e6,
                                       simgcl_form="batch")
    model.train()
    enc = model.backbone
    out = enc()
    v1, v2 = enc.view_embeddings(out.layers[0])
    assert torch.equal(v1, v2)
    assert torch.allclose(v1, enc.combine(out.layers[1:]))
    user, pos, neg = _ids(batch)
    n_u, n_i = torch.unique(user).numel(), torch.unique(pos).numel()
    expected = 0.1 * (n_u * math.log(n_u) + n_i * math.log(n_i)) / user.numel()
    assert enc.backbone_loss(user, pos, neg, out).item() == pytest.approx(expected, rel=1e-4)


def test_simgcl_noise_has_norm_eps_and_sign_of_embedding(tiny_data, tmp_path):
    model, _, _ = _model_and_batch(tiny_data, tmp_path, "SimGCL", simgcl_eps=0.3)
    e = torch.randn(50, 8)
    delta = model.backbone.perturb(e) - e
    assert torch.allclose(delta.norm(dim=-1), torch.full((50,), 0.3), atol=1e-5)
    assert torch.all(delta * e >= 0)


@pytest.mark.parametrize("backbone", ["SGL", "SimGCL"])
@pytest.mark.parametrize("model", ["GraphCF", "RLMRecCon", "RLMRecGen", "IRLLRec"])
def test_one_epoch_end_to_end(tiny_data, tmp_path, monkeypatch, backbone, model):
    encoder = BACKBONES[backbone]
    calls = count_backbone_calls(monkeypatch, encoder)
    config = tiny_config(tiny_data, tmp_path, backbone=backbone, epochs=2)
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=config)
    assert set(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())
    assert calls["loss"] >= 2  # every training batch adds the backbone's loss
    if backbone == "SGL":
        assert calls["resample"] == 2  # once per epoch, never for evaluation
