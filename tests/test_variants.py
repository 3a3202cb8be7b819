"""Variants on one backbone: GraphCF (plain), RLMRec-Con, RLMRec-Gen, IRLLRec."""
import pytest
import torch

from conftest import TINY, model_config_batch, tiny_config
from recbole_irllrec.model import losses
from recbole_irllrec.quick_start import run_recbole_irllrec

VARIANTS = ("GraphCF", "RLMRecCon", "RLMRecGen", "IRLLRec")
ALL_WEIGHTS = dict(kd_weight=0.1, recon_weight=0.1, kd_int_weight=0.1, kd_int_weight_2=0.1, kd_int_weight_3=0.1)


def build(tiny_data, tmp_path, model, **overrides):
    torch.manual_seed(0)
    _, m, batch = model_config_batch(tiny_data, tmp_path, model, **overrides)
    return m, batch


@pytest.mark.parametrize("model", VARIANTS)
def test_each_variant_trains_one_epoch_and_evaluates(tiny_data, tmp_path, model):
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert result["test_result"] and all(0.0 <= v <= 1.0 for v in result["test_result"].values())


@pytest.mark.parametrize(
    ("model", "parts"),
    [
        ("GraphCF", set()),
        ("RLMRecCon", {"profile_alignment"}),
        ("RLMRecGen", {"profile_reconstruction"}),
        ("IRLLRec", {"profile_alignment", "intent_text", "pairwise_alignment", "translation_alignment", "text_matching"}),
    ],
)
def test_a_variant_builds_only_its_terms_whatever_weights_the_config_carries(tiny_data, tmp_path, model, parts):
    m, batch = build(tiny_data, tmp_path, model, **ALL_WEIGHTS)
    text_parts = {
        "profile_alignment", "profile_reconstruction", "intent_text", "pairwise_alignment",
        "translation_alignment", "text_matching",
    }
    assert {p for p in text_parts if getattr(m, p, None) is not None} == parts
    loss = m.calculate_loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    # the EMA teacher gets no gradient by design; TA has no parameters of its own
    for name in parts - {"text_matching", "translation_alignment"}:
        module = getattr(m, name)
        grads = [module.grad] if isinstance(module, torch.nn.Parameter) else [p.grad for p in module.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_plain_variant_is_bpr_plus_l2(tiny_data, tmp_path):
    m, batch = build(tiny_data, tmp_path, "GraphCF", reg_weight=0.01, **ALL_WEIGHTS)
    user_e, item_e = m.forward()
    u, i, j = batch["user_id"], batch["item_id"], batch["neg_item_id"]
    bpr = losses.bpr_loss((user_e[u] * item_e[i]).sum(-1), (user_e[u] * item_e[j]).sum(-1))
    l2 = sum((p**2).sum() for p in m.parameters())
    assert torch.allclose(m.calculate_loss(batch), bpr + 0.01 * l2)


def test_gen_masks_a_share_of_nodes_and_reconstructs_their_profiles(tiny_data, tmp_path):
    m, batch = build(tiny_data, tmp_path, "RLMRecGen", mask_ratio=0.25, reg_weight=0.0)
    with torch.no_grad():
        m.profile_reconstruction.mask_token.fill_(7.0)  # recognisable in the masked ego embeddings
    captured = {}
    original = m.backbone.forward

    def spy(ego=None):
        captured["ego"] = ego
        return original(ego)

    m.backbone.forward = spy
    m.calculate_loss(batch)
    masked_rows = (captured["ego"] == 7.0).all(dim=1)
    assert masked_rows.sum().item() == int(m.real_nodes.numel() * 0.25)
    assert not masked_rows[0] and not masked_rows[m.n_users]  # padding ids are never masked
    # evaluation uses the unmasked graph
    m.eval()
    captured.clear()
    m.full_sort_predict(batch)
    assert captured["ego"] is None


def test_dccf_and_bigcf_models_fix_their_backbone(tiny_data, tmp_path):
    from recbole_irllrec.model.backbones import BACKBONES

    for name in ("DCCF", "BIGCF"):
        assert name in BACKBONES  # a registered model is never skipped
        m, _ = build(tiny_data, tmp_path, name, backbone="LightGCN")
        assert type(m.backbone) is BACKBONES[name]
