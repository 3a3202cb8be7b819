"""The DCCF graph encoder: shapes, its loss and prototypes, and one epoch of
every model that composes it."""
import pytest
import torch

from conftest import METRICS, TINY, model_config_batch, tiny_config
from recbole_irllrec.model.backbones import BACKBONES, DCCFEncoder
from recbole_irllrec.model.graph import adaptive_propagate
from recbole_irllrec.quick_start import run_recbole_irllrec

def _model_and_batch(tiny_data, tmp_path, model="DCCF", **overrides):
    return model_config_batch(tiny_data, tmp_path, model, **overrides)


def test_registered_and_config_defaults(tiny_data, tmp_path):
    assert BACKBONES["DCCF"] is DCCFEncoder
    config, model, _ = _model_and_batch(tiny_data, tmp_path)
    assert isinstance(model.backbone, DCCFEncoder)
    assert config["dccf_intent_num"] == 128
    assert config["dccf_cl_weight"] == pytest.approx(1e-3)
    assert config["dccf_temperature"] == pytest.approx(0.1)
    assert config["n_layers"] == 2


def test_forward_shapes_and_ego_argument(tiny_data, tmp_path):
    config, model, _ = _model_and_batch(tiny_data, tmp_path, n_layers=3, dccf_intent_num=5)
    enc = model.backbone
    n, d = enc.n_nodes, config["embedding_size"]
    out = enc()
    assert out.final.shape == (n, d)
    assert len(out.layers) == 4 and all(x.shape == (n, d) for x in out.layers)
    assert torch.allclose(out.final, torch.stack(out.layers).sum(0), atol=1e-5)
    for key in ("gnn", "intent", "gnn_aug", "intent_aug"):
        assert out.extra[key].shape == (3, n, d)
    # E^(l+1) = sum of the four views + E^(l)
    ex = out.extra
    step = ex["gnn"][0] + ex["intent"][0] + ex["gnn_aug"][0] + ex["intent_aug"][0] + out.layers[0]
    assert torch.allclose(out.layers[1], step, atol=1e-5)
    # the augmented views are row-stochastic propagations: a constant input stays constant on nodes with edges
    ones = torch.ones(n, d)
    const = adaptive_propagate(torch.randn(n, d), ones, *enc.edge_index)
    has_edges = torch.bincount(enc.edge_index[0], minlength=n) > 0
    assert torch.allclose(const[has_edges], ones[has_edges], atol=1e-5)
    assert torch.all(const[~has_edges] == 0)
    # propagation starts from the given ego embeddings
    ego = torch.randn(n, d)
    again = enc(ego)
    assert torch.equal(again.layers[0], ego)
    assert not torch.allclose(again.final, out.final)


def test_backbone_loss_gradients_and_prototypes(tiny_data, tmp_path):
    config, model, batch = _model_and_batch(tiny_data, tmp_path, dccf_intent_num=7)
    enc = model.backbone
    user_p, item_p = enc.intent_prototypes()
    assert user_p.shape == (config["embedding_size"], 7) and item_p.shape == (config["embedding_size"], 7)
    assert user_p is enc.user_intent and item_p is enc.item_intent
    out = enc()
    loss = enc.backbone_loss(batch["user_id"], batch["item_id"], batch["neg_item_id"], out)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    for param in (enc.user_embedding.weight, enc.item_embedding.weight, enc.user_intent, enc.item_intent):
        assert param.grad is not None and torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0
    # weighted by dccf_cl_weight; 0 turns it off
    enc.cl_weight = 2 * config["dccf_cl_weight"]
    doubled = enc.backbone_loss(batch["user_id"], batch["item_id"], batch["neg_item_id"], enc())
    assert doubled.item() == pytest.approx(2 * loss.item(), rel=1e-4)
    enc.cl_weight = 0.0
    assert enc.backbone_loss(batch["user_id"], batch["item_id"], batch["neg_item_id"], out) is None


def test_irllrec_pa_uses_dccf_prototypes(tiny_data, tmp_path):
    # PA's intent graph is built on the backbone's prototypes (it has none of its own)
    _, model, batch = _model_and_batch(tiny_data, tmp_path, model="IRLLRec", backbone="DCCF")
    seen = model.pairwise_alignment.intent_graph.prototypes()
    assert seen[0] is model.backbone.user_intent and seen[1] is model.backbone.item_intent
    loss = model.calculate_loss(batch)
    loss.backward()
    assert model.backbone.user_intent.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "model,extra",
    [("DCCF", {}), ("RLMRecCon", {"backbone": "DCCF"}), ("RLMRecGen", {"backbone": "DCCF"}), ("IRLLRec", {"backbone": "DCCF"})],
)
def test_one_epoch_with_dccf_backbone(tiny_data, tmp_path, model, extra):
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, **extra))
    assert set(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())
