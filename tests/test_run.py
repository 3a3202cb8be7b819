"""End to end through the run function, checkpoints, and the loss wiring."""
import pickle

import pytest
import torch

from conftest import METRICS, TINY, bpr_plus_kd, model_config_batch, tiny_config
from recbole_irllrec.checkpoint import CheckpointError, load_checkpoint
from recbole_irllrec.config import Config
from recbole_irllrec.model import losses
from recbole_irllrec.quick_start import load_data_and_model, run_recbole_irllrec

@pytest.mark.parametrize("model", ["IRLLRec", "LightGCN", "BPR"])
def test_one_epoch_end_to_end(tiny_data, tmp_path, model):
    result = run_recbole_irllrec(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert set(result["test_result"]) == METRICS
    assert all(0.0 <= v <= 1.0 for v in result["test_result"].values())
    # the checkpoint holds plain data only and loads with weights_only=True
    checkpoint = load_checkpoint(result["saved_model_file"])
    assert checkpoint["config"]["model"] == model


def test_checkpoint_reload_reproduces_test_result(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path, epochs=2, align_scope="all")
    result = run_recbole_irllrec(model="IRLLRec", dataset=TINY, config_dict=config)
    cfg, model, _, _, _, test_data = load_data_and_model(result["saved_model_file"])
    # text vectors are not stored in the checkpoint; they come back from the dataset
    state = torch.load(result["saved_model_file"], weights_only=True)["state_dict"]
    assert not any("vectors" in key for key in state)
    from recbole_irllrec.utils import get_trainer

    trainer = get_trainer(cfg["MODEL_TYPE"], cfg["model"])(cfg, model)
    again = trainer.evaluate(test_data, load_best_model=False)
    assert dict(again) == pytest.approx(dict(result["test_result"]), abs=1e-4)


def test_pickled_objects_in_checkpoint_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"config": {}, "state_dict": {}, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    path2 = tmp_path / "odd.pth"
    torch.save({"config": {"model": "x"}, "state_dict": {}, "extra": 1}, path2)
    with pytest.raises(CheckpointError, match="unexpected checkpoint keys"):
        load_checkpoint(path2)


def _model_and_batch(tiny_data, tmp_path, **overrides):
    _, model, batch = model_config_batch(tiny_data, tmp_path, "IRLLRec", **overrides)
    return model, batch


ZERO = dict(reg_weight=0.0, kd_weight=0.0, kd_int_weight=0.0, kd_int_weight_2=0.0, kd_int_weight_3=0.0)


def test_weight_zero_skips_the_term(tiny_data, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("computed a term whose weight is 0")

    for name in ("info_nce_sum", "translation_alignment", "soft_target_cross_entropy"):
        monkeypatch.setattr(f"recbole_irllrec.model.alignment.{name}", boom)
    monkeypatch.setattr("recbole_irllrec.model.graph_text.l2_norm_sq", boom)
    model, batch = _model_and_batch(tiny_data, tmp_path, **ZERO)
    user_e, item_e = model.forward()
    u, p, n = (user_e[batch["user_id"]], item_e[batch["item_id"]], item_e[batch["neg_item_id"]])
    expected = losses.bpr_loss((u * p).sum(-1), (u * n).sum(-1))
    assert torch.allclose(model.calculate_loss(batch), expected)


def test_profile_alignment_term_is_weighted_group_of_three(tiny_data, tmp_path):
    model, batch = _model_and_batch(tiny_data, tmp_path, **{**ZERO, "kd_weight": 0.5, "candidate_scope": "all"})
    loss = model.calculate_loss(batch)
    assert torch.allclose(loss, bpr_plus_kd(model, batch, 0.5), atol=1e-5)


@pytest.mark.parametrize("scope", ["batch", "all"])
def test_every_term_trains_every_part(tiny_data, tmp_path, scope):
    model, batch = _model_and_batch(tiny_data, tmp_path, align_scope=scope, kd_int_weight_2=0.1, kd_int_weight_3=0.1)
    loss = model.calculate_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_batch_reg_scope_is_recboles_emb_loss(tiny_data, tmp_path):
    from recbole.model.loss import EmbLoss

    model, batch = _model_and_batch(tiny_data, tmp_path, **{**ZERO, "reg_weight": 0.1, "reg_scope": "batch"})
    loss = model.calculate_loss(batch)
    user_e, item_e = model.forward()
    u, i, j = batch["user_id"], batch["item_id"], batch["neg_item_id"]
    bpr = losses.bpr_loss((user_e[u] * item_e[i]).sum(-1), (user_e[u] * item_e[j]).sum(-1))
    ego_u, ego_i = model.backbone.user_embedding.weight, model.backbone.item_embedding.weight
    reg = EmbLoss()(ego_u[u], ego_i[i], ego_i[j])
    assert torch.allclose(loss, bpr + 0.1 * reg.squeeze(), atol=1e-6)


def test_credentials_in_the_config_are_refused(tiny_data, tmp_path):
    # RecBole logs the whole config and pickles it into checkpoints.
    config = tiny_config(tiny_data, tmp_path, openai_api_key="sk-should-not-be-here")
    with pytest.raises(ValueError, match=r"\['openai_api_key'\] look like credentials"):
        Config(model="IRLLRec", dataset=TINY, config_dict=config)
