"""Misspelt keys and settings that would load pickles (issue 14)."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from conftest import TINY, tiny_config
from recbole_irllrec.config import Config, ConfigError, UnknownKeyWarning
from recbole_irllrec.known_keys import closest_key, known_keys
from recbole_irllrec.properties_path import properties_dir
from recbole_irllrec.quick_start import run_recbole_irllrec

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _config(tmp_path, **kwargs):
    return Config(model="IRLLRec", dataset=TINY, **kwargs)


# ------------------------------------------------------------------ 3: unknown keys
def test_a_misspelt_command_line_key_warns_with_the_closest_key(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["run", "--kd_weigth=0.1"])
    with pytest.warns(UnknownKeyWarning, match=r"'kd_weigth' \(from command line\).*did you mean 'kd_weight'"):
        config = _config(tmp_path, config_dict={"data_path": str(tmp_path)})
    assert config["kd_weight"] == 1e-2  # the misspelt key changes nothing, as before: it only warns


def test_misspelt_keys_in_a_config_file_and_the_config_dict_warn(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("learning_rte: 0.01\n")
    with pytest.warns(UnknownKeyWarning) as record:
        _config(tmp_path, config_file_list=[str(mine)], config_dict={"data_path": str(tmp_path), "n_layer": 2})
    messages = [str(w.message) for w in record]
    assert any(f"'learning_rte' (from {mine})" in m and "'learning_rate'" in m for m in messages)
    assert any("'n_layer' (from config_dict)" in m and "'n_layers'" in m for m in messages)


def test_strict_keys_refuses_an_unknown_key_naming_the_suggestion(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["run", "--kd_weigth=0.1", "--strict_keys=True"])
    with pytest.raises(ConfigError, match=r"'kd_weigth'.*did you mean 'kd_weight'.*strict_keys"):
        _config(tmp_path, config_dict={"data_path": str(tmp_path)})
    with pytest.raises(ConfigError, match="zzz_unlike_anything.*no known key is close"):
        _config(tmp_path, config_dict={"data_path": str(tmp_path), "strict_keys": True, "zzz_unlike_anything": 1})
    monkeypatch.setattr(sys, "argv", ["run", "--strict_keys=True", "--kd_weight=0.1"])
    assert _config(tmp_path, config_dict={"data_path": str(tmp_path)})["kd_weight"] == 0.1


def test_the_run_script_shows_the_warning_and_strict_refuses_in_one_line(tiny_data, tmp_path):
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    argv = [sys.executable, str(REPO / "run_recbole_irllrec.py"), "--model=BPR", f"--dataset={TINY}",
            f"--config_files={settings}", "--kd_weigth=0.1"]
    shown = subprocess.run(argv + ["--show_config"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "did you mean 'kd_weight'" in shown.stderr
    refused = subprocess.run(argv + ["--strict_keys=True"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert "kd_weigth" in line and "kd_weight" in line


def test_recboles_documented_and_runtime_keys_are_known():
    keys = known_keys()
    for key in ("benchmark_filename", "additional_feat_suffix", "preload_weight", "alias_of_user_id",
                "alias_of_entity_id", "numerical_features", "discretization", "kg_reverse_r",
                "entity_kg_num_interval", "encoding", "MODEL_TYPE", "device", "gpu_id", "use_gpu", "config_files",
                "nproc", "world_size", "hidden_dropout_prob", "mlp_hidden_size", "dccf_cl_weight", "strict_keys",
                "candidate_scope", "align_scope", "test_mask_valid_items", "reg_scope"):
        assert key in keys, key
    assert closest_key("learnig_rate") == "learning_rate" and closest_key("qqqqqqqqqq") is None


def _no_unknown_key_warning(**kwargs) -> Config:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownKeyWarning)
        return Config(**kwargs)


def test_shipped_files_and_normal_configs_raise_no_false_alarm(tiny_data, tmp_path):
    root = properties_dir()
    tiny = tiny_config(tiny_data, tmp_path)
    # every shipped property file, given as a user config file
    for path in sorted(root.rglob("*.yaml")):
        if "hyper" not in path.parts:
            _no_unknown_key_warning(model="IRLLRec", dataset=TINY, config_file_list=[str(path)], config_dict=tiny)
    # the tiny test config, with every plugin model and two of RecBole's
    for model in ("IRLLRec", "RLMRecCon", "RLMRecGen", "GraphCF", "DCCF", "BIGCF", "LightGCN", "BPR"):
        _no_unknown_key_warning(model=model, dataset=TINY, config_dict=tiny)


def test_benchmark_configs_raise_no_false_alarm(tmp_path):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import bench_data, runner, speed
    finally:
        sys.path.remove(str(REPO))
    dicts = [runner.FAITHFUL, runner.SCALABLE, runner.NO_TEXT, runner.shared_settings(3, 2),
             runner.dataset_settings("amazon-book-2500", tmp_path), bench_data.synthetic_settings(tmp_path),
             speed._speed_settings("cpu", tmp_path)]
    unknown = sorted({key for d in dicts for key in d} - known_keys())
    assert unknown == []


# ------------------------------------------------------------------ 5: no pickled data
@pytest.mark.parametrize(
    "key, value",
    [("save_dataloaders", True), ("dataloaders_save_path", "saved/x.pth"), ("save_dataset", True),
     ("dataset_save_path", "saved/tiny-Dataset.pth")],
)
def test_settings_that_load_pickled_data_are_refused(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"^{key}: .* is refused.*unpickl"):
        _config(tmp_path, config_dict={"data_path": str(tmp_path), key: value})
    # the defaults (False / ~) pass
    _config(tmp_path, config_dict={"data_path": str(tmp_path), key: None if "path" in key else False})


def test_a_saved_dataloader_file_recbole_would_unpickle_is_refused(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path)
    saved = Path(config["checkpoint_dir"])
    saved.mkdir(parents=True)
    marker = tmp_path / "ran"
    # what RecBole's data_preparation would pickle.load, whatever save_dataloaders says
    (saved / f"{TINY}-for-BPR-dataloader.pth").write_bytes(
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    )
    with pytest.raises(ConfigError, match="dataloader.pth exists.*unpickle"):
        run_recbole_irllrec(model="BPR", dataset=TINY, config_dict=config)
    assert not marker.exists()
