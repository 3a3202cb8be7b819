"""A checkpoint reloads with the config it was trained with, not today's defaults (issue 14)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from conftest import train_tiny_irllrec, write_tiny_dataset
from recbole_irllrec import properties_path
from recbole_irllrec.checkpoint import CheckpointError, load_checkpoint
from recbole_irllrec.quick_start import load_data_and_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    """A tiny IRLLRec checkpoint (1 epoch) trained with the shipped property files."""
    root = tmp_path_factory.mktemp("recorded")
    write_tiny_dataset(root / "data")
    # intent_num and kd_weight come from properties/model/IRLLRec.yaml (128, 1e-2)
    return root, train_tiny_irllrec(root)


@pytest.fixture
def changed_properties(tmp_path, monkeypatch) -> Path:
    """A copy of properties/ that the plugin reads instead, with IRLLRec's defaults changed."""
    package = tmp_path / "package"
    shutil.copytree(properties_path.properties_dir(), package / "properties")
    model_file = package / "properties" / "model" / "IRLLRec.yaml"
    text = model_file.read_text()
    for old, new in (("intent_num: 128 ", "intent_num: 16 "), ("kd_weight: 1.0e-02 ", "kd_weight: 5.0e-01 ")):
        assert old in text
        text = text.replace(old, new)
    model_file.write_text(text)
    with open(package / "properties" / "overall.yaml", "a", encoding="utf-8") as f:
        f.write("brand_new_option: 3\n")
    monkeypatch.setattr(properties_path, "_PACKAGE", package)
    return package / "properties"


def test_reload_uses_the_recorded_values_and_reports_todays_differences(trained, changed_properties, caplog):
    _, model_file = trained
    with caplog.at_level(logging.WARNING):
        config, model, *_ = load_data_and_model(model_file)
    # rebuilt as trained: 128 prototypes (16 would not even load the state dict) and kd 1e-2
    assert config["intent_num"] == 128 and config["kd_weight"] == 1e-2
    prototypes = [p for name, p in model.named_parameters() if "pairwise_alignment" in name and p.dim() == 2]
    assert prototypes and all(p.shape[1] == 128 for p in prototypes)  # [d, K]
    assert config.source_of("kd_weight") == f"{model_file} (recorded property values)"
    assert config.source_of("epochs") == f"{model_file} (recorded settings)"  # the user's own setting
    drift = {key: (then, now) for key, then, now in config.recorded_drift}
    assert drift == {"intent_num": (128, 16), "kd_weight": (1e-2, 0.5), "brand_new_option": ("(not set)", 3)}
    assert config["brand_new_option"] == 3  # nothing recorded for it: today's default, reported
    (message,) = [r.getMessage() for r in caplog.records if "differ from today's property files" in r.getMessage()]
    assert "intent_num: recorded 128, today 16" in message and "kd_weight: recorded 0.01, today 0.5" in message


def test_reload_with_unchanged_properties_reports_nothing(trained):
    config, *_ = load_data_and_model(trained[1])
    assert config.recorded_drift == []


def test_recorded_final_values_must_be_plain_data_and_numbers_where_numbers_belong(trained, tmp_path):
    _, model_file = trained
    for key, value, match in (("kd_weight", "__import__('os').system('x') or 1", "'kd_weight' is a str"),
                              ("intent_num", torch.ones(1), "intent_num")):
        checkpoint = torch.load(model_file, weights_only=True)
        checkpoint["config"]["final"][key] = value
        path = tmp_path / f"tampered-{key}.pth"
        torch.save(checkpoint, path)
        with pytest.raises(CheckpointError, match=match):
            load_data_and_model(str(path))


def test_a_recorded_string_where_a_string_belongs_is_taken_as_is(trained, tmp_path):
    _, model_file = trained
    checkpoint = load_checkpoint(model_file)
    checkpoint["config"]["final"]["align_scope"] = "all"  # a string key, recorded: read, never run
    path = tmp_path / "scope.pth"
    torch.save(checkpoint, path)
    config, *_ = load_data_and_model(str(path))
    assert config["align_scope"] == "all"
