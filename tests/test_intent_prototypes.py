"""Intent prototypes: one set per model. PA's intent graph builds its own only
when the backbone has none (LightGCN, SGL, SimGCL); with DCCF and BIGCF it
uses theirs, so nothing unused is trained, regularised or saved."""
import pytest
import torch

from conftest import model_config_batch
from recbole_irllrec.model.alignment import Rows
from recbole_irllrec.model.backbones import BACKBONES

NATIVE = ("DCCF", "BIGCF")
BACKBONE_PROTOTYPES = {"backbone.user_intent", "backbone.item_intent"}


def _prototype_keys(model) -> set[str]:
    """State-dict keys of every intent prototype the model saves."""
    return {k for k in model.state_dict() if "prototypes" in k or k.endswith(("user_intent", "item_intent"))}


@pytest.mark.parametrize("backbone", NATIVE)
def test_irllrec_has_no_own_prototypes_and_pa_uses_the_backbones(tiny_data, tmp_path, backbone):
    _, model, interaction = model_config_batch(tiny_data, tmp_path, "IRLLRec", backbone=backbone, intent_num=5)
    assert _prototype_keys(model) == BACKBONE_PROTOTYPES
    graph = model.pairwise_alignment.intent_graph
    assert not list(graph.parameters()) and not graph.state_dict()
    user_p, item_p = graph.prototypes()
    assert user_p is model.backbone.user_intent and item_p is model.backbone.item_intent
    assert model.intent_prototypes()[0] is model.backbone.user_intent  # what the insight tools read
    # PA alone (graph layers detached, so nothing else reaches the prototypes) trains the backbone's prototypes
    batch = model.batch_of(interaction)
    candidates = model.candidates(batch)
    rows = torch.unique(torch.cat([candidates, batch.nodes]))
    layers = [layer.detach() for layer in model.backbone().layers]
    model.pairwise_alignment(layers, Rows(rows, model.intent_text(rows)), batch, candidates).backward()
    assert user_p.grad.abs().sum() > 0 and item_p.grad.abs().sum() > 0


@pytest.mark.parametrize("backbone", ["LightGCN", "SGL", "SimGCL"])
def test_irllrec_builds_its_own_prototypes_without_native_ones(tiny_data, tmp_path, backbone):
    _, model, _ = model_config_batch(tiny_data, tmp_path, "IRLLRec", backbone=backbone, intent_num=5)
    own = {"pairwise_alignment.intent_graph.user_prototypes", "pairwise_alignment.intent_graph.item_prototypes"}
    assert _prototype_keys(model) == own
    state = model.state_dict()
    assert all(state[key].shape == (model.embedding_size, 5) for key in own)
    user_p, _ = model.pairwise_alignment.intent_graph.prototypes()
    assert user_p is model.pairwise_alignment.intent_graph.user_prototypes


@pytest.mark.parametrize(
    "model, backbone",
    [("GraphCF", "DCCF"), ("GraphCF", "BIGCF"), ("DCCF", None), ("BIGCF", None), ("RLMRecCon", "DCCF"),
     ("RLMRecCon", "BIGCF"), ("RLMRecGen", "DCCF"), ("RLMRecGen", "BIGCF")],
)
def test_other_models_save_only_the_backbones_prototypes(tiny_data, tmp_path, model, backbone):
    overrides = {"backbone": backbone} if backbone else {}
    _, net, _ = model_config_batch(tiny_data, tmp_path, model, intent_num=5, **overrides)
    assert _prototype_keys(net) == BACKBONE_PROTOTYPES


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_intent_num_key_is_declared_exactly_for_native_prototypes(tiny_data, tmp_path, backbone):
    # the search reads INTENT_NUM_KEY without building a model; it must agree with intent_prototypes()
    config, model, _ = model_config_batch(tiny_data, tmp_path, "GraphCF", backbone=backbone)
    encoder = model.backbone
    assert (encoder.INTENT_NUM_KEY is not None) == (encoder.intent_prototypes() is not None)
    if encoder.INTENT_NUM_KEY:
        assert encoder.intent_prototypes()[0].shape[1] == config[encoder.INTENT_NUM_KEY]
