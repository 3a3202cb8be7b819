"""The scalable settings: what the text terms read per batch, and the projection."""
import pytest
import torch

from conftest import bpr_plus_kd, model_config_batch
from recbole_irllrec.model.towers import TextEncoder, pca_axes

ZERO = dict(reg_weight=0.0, kd_weight=0.0, kd_int_weight=0.0, kd_int_weight_2=0.0, kd_int_weight_3=0.0)


def _model_and_batch(tiny_data, tmp_path, **overrides):
    torch.manual_seed(0)
    _, model, batch = model_config_batch(tiny_data, tmp_path, "IRLLRec", **overrides)
    return model, batch


def test_batch_candidates_are_the_batch_users(tiny_data, tmp_path):
    model, batch = _model_and_batch(tiny_data, tmp_path, **{**ZERO, "kd_weight": 0.5, "candidate_scope": "batch"})
    loss = model.calculate_loss(batch)
    assert torch.allclose(loss, bpr_plus_kd(model, batch, 0.5, all_user_candidates=False), atol=1e-5)


def test_text_batch_size_reads_the_first_triples_only(tiny_data, tmp_path):
    overrides = {**ZERO, "kd_weight": 0.5, "candidate_scope": "all", "text_batch_size": 16}
    model, batch = _model_and_batch(tiny_data, tmp_path, **overrides)
    loss = model.calculate_loss(batch)
    assert torch.allclose(loss, bpr_plus_kd(model, batch, 0.5, size=16), atol=1e-5)


def test_scalable_text_terms_read_rows_of_the_batch_only(tiny_data, tmp_path, monkeypatch):
    """Per-batch cost independent of the number of nodes: the towers see only
    rows of the batch's (sampled) triples, the intent graph only their edges."""
    model, batch = _model_and_batch(
        tiny_data, tmp_path, kd_int_weight_2=0.1, kd_int_weight_3=0.1, candidate_scope="batch", align_scope="batch",
        text_batch_size=8,
    )
    seen = []
    original = TextEncoder.forward

    def spy(self, rows=None):
        seen.append(rows)
        return original(self, rows)

    monkeypatch.setattr(TextEncoder, "forward", spy)
    model.calculate_loss(batch).backward()
    allowed = set(torch.cat([batch["user_id"][:8], batch["item_id"][:8] + model.n_users,
                             batch["neg_item_id"][:8] + model.n_users]).tolist())
    assert seen and all(rows is not None and set(rows.tolist()) <= allowed for rows in seen)


def test_full_scope_runs_the_towers_over_every_node_once(tiny_data, tmp_path, monkeypatch):
    model, batch = _model_and_batch(
        tiny_data, tmp_path, kd_int_weight_2=0.1, kd_int_weight_3=0.1, candidate_scope="all", align_scope="all"
    )
    calls = []
    original = TextEncoder.with_hidden

    def spy(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(TextEncoder, "with_hidden", spy)
    loss = model.calculate_loss(batch)
    assert calls == [model.intent_text] and torch.isfinite(loss)


def test_pca_projection_is_deterministic_and_keeps_padding_zero():
    torch.manual_seed(0)
    users, items = torch.randn(30, 20) @ torch.randn(20, 30), torch.randn(25, 20) @ torch.randn(20, 30)
    users[0], items[0] = 0, 0
    torch.manual_seed(1)
    first = TextEncoder(users, items, 4, proj_dim=6)
    torch.manual_seed(2)  # the global seed must not matter: reloads rebuild the same projection
    second = TextEncoder(users, items, 4, proj_dim=6)
    assert first.user_vectors.shape == (30, 6) and first.item_vectors.shape == (25, 6)
    assert torch.equal(first.user_vectors, second.user_vectors) and torch.equal(first.item_vectors, second.item_vectors)
    assert torch.all(first.user_vectors[0] == 0) and torch.all(first.item_vectors[0] == 0)
    # the top axes keep most of the variance of this rank-20 data
    real = torch.cat([users[1:], items[1:]])
    kept = torch.cat([first.user_vectors[1:], first.item_vectors[1:]])
    assert kept.pow(2).sum() > 0.5 * (real - real.mean(0)).pow(2).sum()
    with pytest.raises(ValueError, match="text_proj_dim"):
        pca_axes(real, 30)


def test_projection_and_hidden_width_shape_the_towers(tiny_data, tmp_path):
    model, batch = _model_and_batch(tiny_data, tmp_path, text_proj_dim=5, tower_hidden=7)
    wide, _ = _model_and_batch(tiny_data, tmp_path, text_proj_dim=64)  # wider than the 8 / 12-d vectors: kept
    assert wide.profile_alignment.text.user_vectors.shape[1] == 8 and wide.intent_text.item_vectors.shape[1] == 12
    for encoder in (model.profile_alignment.text, model.intent_text):
        assert encoder.user_vectors.shape[1] == encoder.item_vectors.shape[1] == 5
        assert encoder.tower[0].in_features == 5 and encoder.tower[0].out_features == 7
    assert torch.isfinite(model.calculate_loss(batch))


@pytest.mark.parametrize("key,value", [("candidate_scope", "some"), ("align_scope", "none"), ("text_batch_size", -1)])
def test_bad_scope_values_are_refused(tiny_data, tmp_path, key, value):
    with pytest.raises(ValueError, match=key):
        _model_and_batch(tiny_data, tmp_path, **{key: value})


def test_projection_fit_on_a_fixed_sample_of_large_tables(monkeypatch):
    from recbole_irllrec.model import towers

    monkeypatch.setattr(towers, "PCA_FIT_ROWS", 20)
    users, items = torch.randn(40, 12), torch.randn(30, 12)
    rows = towers._fit_rows(users, items)
    assert rows.shape == (20, 12)
    assert torch.equal(rows, towers._fit_rows(users, items))  # the same sample every time
    # only real rows: never a padding row
    pool = torch.cat([users[1:], items[1:]])
    assert all((pool == r).all(dim=1).any() for r in rows)
