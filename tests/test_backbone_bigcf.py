"""The BIGCF backbone: shapes, determinism, its own losses, and runs with every variant."""
import pytest
import torch
import torch.nn.functional as F

from conftest import METRICS, TINY, model_config_batch, tiny_config
from recbole_irllrec.model.backbones import BACKBONES, BIGCFEncoder
from recbole_irllrec.quick_start import run_recbole_irllrec

def _model_and_batch(tiny_data, tmp_path, model="BIGCF", **overrides):
    _, net, batch = model_config_batch(tiny_data, tmp_path, model, **overrides)
    return net, batch


def test_registered_with_reference_defaults(tiny_data, tmp_path):
    assert BACKBONES["BIGCF"] is BIGCFEncoder
    model, _ = _model_and_batch(tiny_data, tmp_path)
    enc = model.backbone
    assert isinstance(enc, BIGCFEncoder)
    assert (enc.intent_num, enc.ssl_weight, enc.temperature, enc.cen_weight) == (128, 0.04, 0.2, 1e-5)


def test_forward_shapes_and_eval_determinism(tiny_data, tmp_path):
    model, _ = _model_and_batch(tiny_data, tmp_path, bigcf_intent_num=5)
    enc = model.backbone
    d, n = enc.embedding_size, enc.n_nodes
    out = enc()
    assert out.final.shape == (n, d) and out.extra["intent"].shape == (n, d)
    assert len(out.layers) == enc.n_layers + 1 and all(x.shape == (n, d) for x in out.layers)
    p_u, p_i = enc.intent_prototypes()
    assert p_u.shape == p_i.shape == (d, 5)
    # training samples around the mean; evaluation returns the mean, deterministically
    assert not torch.equal(enc().final, enc().final)
    enc.eval()
    a, b = enc().final, enc().final
    assert torch.equal(a, b)
    assert torch.allclose(a, torch.stack(out.layers).sum(0), atol=1e-6)
    # forward from a given ego
    ego = torch.randn(n, d)
    assert torch.allclose(enc(ego).layers[0], ego)


def _naive_cl(z, c, user, items, t):
    """The reference's five B x B InfoNCE terms, written out directly."""

    def nce(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        return (torch.logsumexp(a @ b.T / t, dim=1) - (a * b).sum(1) / t).mean()

    zu, zi, cu, ci = z[user], z[items], c[user], c[items]
    return nce(zu, zu) + nce(zi, zi) + nce(zu, zi) + nce(cu, cu) + nce(ci, ci)


def test_backbone_loss_matches_reference_form_and_trains(tiny_data, tmp_path):
    model, batch = _model_and_batch(tiny_data, tmp_path, bigcf_intent_num=6)
    enc = model.backbone
    user, pos, neg = batch["user_id"], batch["item_id"], batch["neg_item_id"]
    out = enc()
    loss = enc.backbone_loss(user, pos, neg, out)
    assert loss.dim() == 0 and torch.isfinite(loss)
    cl = _naive_cl(out.final, out.extra["intent"], user, pos + enc.n_users, enc.temperature)
    cen = enc.user_intent.pow(2).sum() + enc.item_intent.pow(2).sum()
    assert torch.allclose(loss, 0.04 * cl + 1e-5 * cen, atol=1e-5)
    loss.backward()
    for param in (enc.user_embedding.weight, enc.item_embedding.weight, enc.user_intent, enc.item_intent):
        assert param.grad is not None and param.grad.abs().sum() > 0
    # zero weights: no loss at all
    enc.ssl_weight = enc.cen_weight = 0.0
    assert enc.backbone_loss(user, pos, neg, out) is None


def test_irllrec_pa_term_uses_native_prototypes(tiny_data, tmp_path):
    model, batch = _model_and_batch(tiny_data, tmp_path, model="IRLLRec", backbone="BIGCF", reg_weight=0.0)
    model.calculate_loss(batch).backward()
    assert model.backbone.user_intent.grad.abs().sum() > 0
    # the backbone lends its prototypes: the intent graph builds none of its own
    assert not hasattr(model.pairwise_alignment.intent_graph, "user_prototypes")
    assert model.pairwise_alignment.intent_graph.prototypes()[0] is model.backbone.user_intent


@pytest.mark.parametrize("model", ["BIGCF", "RLMRecCon", "RLMRecGen", "IRLLRec"])
def test_one_epoch_with_bigcf_backbone(tiny_data, tmp_path, model):
    config = tiny_config(tiny_data, tmp_path, backbone="BIGCF")
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=config)
    assert set(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())
