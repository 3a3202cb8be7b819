"""Which property file sets what (issue 14): merge order, per-(model, dataset) files,
provenance and --show_config, and every default living in one YAML file."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import recbole
import yaml

from conftest import TINY, tiny_config
from recbole_irllrec.checkpoint import plain
from recbole_irllrec.config import Config
from recbole_irllrec.known_keys import known_keys
from recbole_irllrec.properties_path import properties_dir

REPO = Path(__file__).resolve().parents[1]
ROOT = properties_dir()
RECBOLE_PROPERTIES = Path(recbole.__file__).resolve().parent / "properties"
PUBLISHED = ("amazon-book", "yelp", "amazon-movie", "steam")
DATASETS = (*PUBLISHED, "ml-100k")
MODELS = ("IRLLRec", "RLMRecCon", "RLMRecGen", "GraphCF", "DCCF", "BIGCF", "LightGCN")
# made with model_keys / effective_keys below at the commit before issue 14
BEFORE = json.loads((Path(__file__).parent / "data" / "effective_config_before_issue14.json").read_text())
# the keys that left the dataset files
MOVED = {"embedding_size", "n_layers", "reg_weight", "kd_weight", "kd_temperature", "kd_int_weight",
         "kd_int_temperature", "kd_int_weight_2", "kd_int_weight_3"}


def _keys(path: Path) -> set[str]:
    return set(yaml.safe_load(path.read_text()) or {}) if path.is_file() else set()


def model_keys(model: str) -> set[str]:
    """A model's own keys: its property file (the plugin's, else RecBole's) and every backbone's."""
    own = ROOT / "model" / f"{model}.yaml"
    keys = _keys(own) if own.is_file() else _keys(RECBOLE_PROPERTIES / "model" / f"{model}.yaml")
    return keys.union(*(_keys(b) for b in (ROOT / "backbone").glob("*.yaml")))


def effective(model: str, dataset: str, **settings) -> dict:
    config = Config(model=model, dataset=dataset, config_dict={"data_path": "/nonexistent", "gpu_id": "", **settings})
    return plain(config.final_config_dict)


# ------------------------------------------------------------------ 1: what each (model, dataset) runs with
NEW_KEYS = {"sgl_form", "simgcl_form", "cold_scoring", "cold_ridge"}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_effective_model_settings_are_unchanged_except_the_overridden_backbones(model, dataset):
    after = effective(model, dataset)
    expected = dict(BEFORE["models"][f"{model}/{dataset}"])
    if model in ("DCCF", "BIGCF") and dataset in PUBLISHED:
        # the bug fixed: the dataset file's n_layers / reg_weight used to override the model file's
        own = yaml.safe_load((ROOT / "model" / f"{model}.yaml").read_text())
        assert (expected["n_layers"], expected["reg_weight"]) != (own["n_layers"], own["reg_weight"])
        expected.update(n_layers=own["n_layers"], reg_weight=own["reg_weight"])
    per_dataset = ROOT / "model" / model / f"{dataset}.yaml"
    if model == "DCCF" and per_dataset.is_file():  # added after the snapshot: the reference's steam depth
        expected.update(yaml.safe_load(per_dataset.read_text()))
    got = {k: after.get(k) for k in sorted(model_keys(model))}
    # keys added after the snapshot: the SGL / SimGCL view-contrast forms, cold scoring (issue 17)
    assert set(got) - set(expected) <= NEW_KEYS
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_files_hold_data_and_evaluation_keys_only(dataset):
    keys = _keys(ROOT / "dataset" / f"{dataset}.yaml")
    allowed = _keys(RECBOLE_PROPERTIES / "overall.yaml") | _keys(RECBOLE_PROPERTIES / "dataset" / "sample.yaml") | {
        "test_mask_valid_items"
    }
    assert keys <= allowed, keys - allowed
    # and every model still gets them, as before
    for model in ("IRLLRec", "DCCF", "LightGCN"):
        after = effective(model, dataset)
        assert {k: after[k] for k in BEFORE["datasets"][dataset]} == BEFORE["datasets"][dataset]
    assert set(BEFORE["datasets"][dataset]) == keys - MOVED


@pytest.mark.parametrize("dataset", ("amazon-book", "yelp", "amazon-movie", "steam"))
@pytest.mark.parametrize("model", ("DCCF", "BIGCF"))
def test_backbone_models_keep_their_own_layers_and_regularisation(model, dataset):
    own = yaml.safe_load((ROOT / "model" / f"{model}.yaml").read_text())
    per_dataset = ROOT / "model" / model / f"{dataset}.yaml"
    specific = yaml.safe_load(per_dataset.read_text()) if per_dataset.is_file() else {}
    config = Config(model=model, dataset=dataset, config_dict={"data_path": "/nonexistent"})
    for key in ("n_layers", "reg_weight"):
        assert config[key] == specific.get(key, own[key])
        where = per_dataset if key in specific else ROOT / "model" / f"{model}.yaml"
        assert config.source_of(key) == where.relative_to(ROOT.parent).as_posix()


def test_irllrec_on_steam_gets_the_published_steam_weights():
    config = Config(model="IRLLRec", dataset="steam", config_dict={"data_path": "/nonexistent"})
    steam = {"reg_weight": 1e-8, "kd_weight": 1e-3, "kd_temperature": 0.1, "kd_int_weight": 1e-2,
             "kd_int_temperature": 0.2, "kd_int_weight_2": 1e-7, "kd_int_weight_3": 1e-7}
    assert {k: config[k] for k in steam} == steam
    assert config.source_of("kd_weight") == "properties/model/IRLLRec/steam.yaml"
    assert config.source_of("kd_int_weight_2") == "properties/model/IRLLRec.yaml"  # same as the model file's
    assert config.source_of("train_batch_size") == "properties/dataset/steam.yaml"


def test_per_model_dataset_files_only_state_what_differs_from_the_model_file():
    for path in sorted((ROOT / "model").glob("*/*.yaml")):
        values = yaml.safe_load(path.read_text())
        model, dataset = path.parent.name, path.stem
        assert (ROOT / "dataset" / f"{dataset}.yaml").is_file(), path
        defaults = Config(model=model, dataset=TINY, config_dict={"data_path": "/nonexistent"})
        differing = {k for k, v in values.items() if defaults[k] != v}
        # ml-100k's kd_weight was chosen on validation with its PA weight: kept beside it though equal
        assert differing == set(values) or path.relative_to(ROOT).as_posix() == "model/IRLLRec/ml-100k.yaml", path


def test_user_files_config_dict_and_command_line_win_over_every_property_file(tmp_path, monkeypatch):
    user_file = tmp_path / "mine.yaml"
    user_file.write_text("kd_weight: 0.5\nn_layers: 7\ntrain_batch_size: 64\n")
    monkeypatch.setattr(sys, "argv", ["run", "--n_layers=5"])
    config = Config(model="IRLLRec", dataset="steam", config_file_list=[str(user_file)],
                    config_dict={"data_path": "/nonexistent", "train_batch_size": 32})
    assert (config["kd_weight"], config["n_layers"], config["train_batch_size"]) == (0.5, 5, 32)
    assert config.source_of("kd_weight") == str(user_file)
    assert config.source_of("n_layers") == "command line"
    assert config.source_of("train_batch_size") == "config_dict"
    assert config.sources.layers("kd_weight") == [
        "properties/model/IRLLRec.yaml", "properties/model/IRLLRec/steam.yaml", str(user_file)
    ]
    assert config.source_of("eval_type") == "derived by RecBole"
    assert config.source_of("no_such_key") is None


def test_show_config_prints_sources_without_loading_data(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, str(REPO / "run_recbole_irllrec.py"), "--model=DCCF", "--dataset=amazon-book",
         "--show_config", "--epochs=2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = {line.split(" = ")[0].strip(): line for line in run.stdout.splitlines() if " = " in line}
    assert re.search(r"= 2 +# properties/model/DCCF\.yaml$", lines["n_layers"])
    assert "# properties/dataset/amazon-book.yaml" in lines["train_batch_size"]
    assert "# command line  (over recbole/properties/overall.yaml, properties/dataset/amazon-book.yaml)" in lines["epochs"]
    assert "# recbole/properties/overall.yaml" in lines["learner"]
    assert "# properties/backbone/DCCF.yaml" in lines["dccf_cl_weight"]
    assert not (tmp_path / "log").exists() and not (tmp_path / "saved").exists()  # nothing ran


# ------------------------------------------------------------------ 2: every default lives in one YAML
def _read_keys() -> set[str]:
    keys = set()
    for folder in ("recbole_irllrec", "dataset_prep"):
        for path in (REPO / folder).rglob("*.py"):
            keys |= set(re.findall(r"config\[[\"']([A-Za-z_0-9]+)[\"']\]", path.read_text()))
    return keys


def test_every_key_the_plugin_reads_has_a_property_default_or_is_recboles():
    unknown = sorted(_read_keys() - known_keys())
    assert unknown == []


def test_no_config_default_is_repeated_in_the_code():
    # `config["x"] or <default>` repeats (or contradicts) the YAML default; RecBole's `~` keys
    # meaning "none" (preload_weight, alias_of_*, ...) read as an empty collection are not defaults
    pattern = re.compile(r"config\[[\"'](\w+)[\"']\]\)?\s+or\s+(?:[-\d\"']|True\b|False\b)")
    found = []
    for folder in ("recbole_irllrec", "dataset_prep"):
        for path in (REPO / folder).rglob("*.py"):
            found += [f"{path.relative_to(REPO)}: {m.group(1)}" for m in pattern.finditer(path.read_text())]
    assert found == []


# ------------------------------------------------------------------ 3: a dataset without its own file (issue 15)
def test_a_dataset_without_its_own_file_gets_the_plugins_default_dataset_file():
    config = Config(model="IRLLRec", dataset="mydata", config_dict={"data_path": "/nonexistent"})
    # the paper's protocol rather than RecBole's MRR@10, and the text layout dataset_prep writes
    assert (config["topk"], config["valid_metric"], config["metrics"]) == ([5, 10, 20], "Recall@20", ["Recall", "NDCG"])
    assert config["additional_feat_suffix"] == ["useremb", "itememb"] and config["normalize_all"] is False
    assert config.source_of("topk") == "properties/dataset/_default.yaml"
    assert config.source_of("preload_weight") == "properties/dataset/_default.yaml"
    # a dataset with its own file never reads the default one
    for dataset in DATASETS:
        known = Config(model="IRLLRec", dataset=dataset, config_dict={"data_path": "/nonexistent"})
        assert "properties/dataset/_default.yaml" not in known.sources.layers("topk"), dataset


def test_the_default_dataset_file_holds_data_and_evaluation_keys_only():
    keys = _keys(ROOT / "dataset" / "_default.yaml")
    allowed = _keys(RECBOLE_PROPERTIES / "overall.yaml") | _keys(RECBOLE_PROPERTIES / "dataset" / "sample.yaml")
    assert keys and keys <= allowed, keys - allowed
    # no split is assumed: a dataset of one <name>.inter is split by RecBole
    assert "benchmark_filename" not in keys


def test_show_config_names_the_default_dataset_file(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, str(REPO / "run_recbole_irllrec.py"), "--model=GraphCF", "--dataset=mydata", "--show_config"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = {line.split(" = ")[0].strip(): line for line in run.stdout.splitlines() if " = " in line}
    assert "# properties/dataset/_default.yaml  (over recbole/properties/overall.yaml)" in lines["topk"]
