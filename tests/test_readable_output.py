"""Output a person can read (issue 15): the config in force, no known warnings,
no progress bars in a captured log, a thread count."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from conftest import TINY, model_config_batch, tiny_config
from recbole_irllrec.config import Config, ConfigError
from recbole_irllrec.quick_start import run_recbole_irllrec

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def logged(config: Config) -> list[str]:
    """The config's lines as a run logs them, without colours."""
    return ANSI.sub("", str(config)).splitlines()


def _config(tiny_data, tmp_path, model="IRLLRec", **overrides) -> Config:
    return Config(model=model, dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, **overrides))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU case")
def test_the_log_names_the_device_in_use_not_the_gpu_asked_for(tiny_data, tmp_path):
    config = _config(tiny_data, tmp_path, gpu_id="0", use_gpu=True)
    lines = logged(config)
    assert "device = cpu" in lines
    assert not any(line.startswith(("use_gpu", "gpu_id")) for line in lines)
    assert config["use_gpu"] is True and config["gpu_id"] == "0"  # the config itself is intact


def test_fixed_split_files_replace_the_random_split_in_the_log(tiny_data, tmp_path):
    lines = logged(_config(tiny_data, tmp_path))
    folder = tiny_data / TINY
    files = [str(folder / f"{TINY}.{part}.inter") for part in ("train", "valid", "test")]
    assert f"split files = {files}" in lines
    assert "eval_args = {'mode': {'valid': 'full', 'test': 'full'}}" in lines
    assert not any("'RS'" in line for line in lines)


def test_without_split_files_the_split_is_shown(tiny_data, tmp_path):
    lines = logged(_config(tiny_data, tmp_path, model="BPR", benchmark_filename=None))
    assert any(line.startswith("eval_args = {'split': {'RS': [0.8, 0.1, 0.1]}") for line in lines)
    assert not any(line.startswith("split files") for line in lines)


@pytest.mark.parametrize("backbone, shown, hidden", [
    ("LightGCN", ["layer_combine"], ["sgl_form", "simgcl_form", "dccf_cl_weight", "bigcf_intent_num"]),
    ("SGL", ["sgl_form", "sgl_drop_ratio"], ["simgcl_form", "dccf_cl_weight"]),
])
def test_only_the_chosen_backbones_keys_are_logged(tiny_data, tmp_path, backbone, shown, hidden):
    config = _config(tiny_data, tmp_path, backbone=backbone)
    keys = {line.split(" = ")[0] for line in logged(config) if " = " in line}
    assert "backbone" in keys and {"kd_weight", "embedding_size"} <= keys
    assert set(shown) <= keys and not set(hidden) & keys
    assert all(key in config.final_config_dict for key in hidden)  # held, only not logged
    (note,) = [line for line in logged(config) if line.startswith("Not shown:")]
    assert "IRLLRec does not read here" in note and hidden[0] in note and "--show_config" in note


def test_a_recbole_model_logs_no_plugin_backbone_or_text_key(tiny_data, tmp_path):
    keys = {line.split(" = ")[0] for line in logged(_config(tiny_data, tmp_path, model="LightGCN"))}
    assert {"n_layers", "reg_weight", "strict_keys", "test_mask_valid_items"} <= keys
    assert not {"sgl_form", "layer_combine", "candidate_scope", "text_batch_size", "kd_weight"} & keys


@pytest.mark.parametrize("backbone", ["LightGCN", "SGL", "SimGCL", "DCCF", "BIGCF"])
def test_the_plugins_code_emits_no_warning(tiny_data, tmp_path, backbone):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _, model, batch = model_config_batch(tiny_data, tmp_path, "IRLLRec", backbone=backbone, sgl_form="reference")
        model.calculate_loss(batch).backward()
        model.full_sort_predict(batch)
    ours = [f"{w.filename}:{w.lineno}: {w.message}" for w in record if "recbole_irllrec" in w.filename]
    assert ours == []


@pytest.mark.parametrize("model", ["IRLLRec", "LightGCN"])
def test_a_captured_run_has_no_warning_and_no_progress_bar(tiny_data, tmp_path, model):
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path, show_progress=True, state="INFO")))
    done = subprocess.run(
        [sys.executable, "-W", "default", str(REPO / "run_recbole_irllrec.py"), f"--model={model}",
         f"--dataset={TINY}", f"--config_files={settings}"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "epoch 0 training" in output and "test result" in output
    assert "Warning" not in output, [line for line in output.splitlines() if "Warning" in line]
    assert "\r" not in output and "it/s]" not in output


def test_threads_sets_torchs_thread_count(tiny_data, tmp_path):
    before = torch.get_num_threads()
    try:
        assert _config(tiny_data, tmp_path)["threads"] == 0  # the default: torch's own count
        run_recbole_irllrec(model="BPR", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, threads=1))
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        run_recbole_irllrec(model="BPR", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, threads=0))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    refusal = r"threads = -1 \(from config_dict\) is not allowed: expected 0 \(torch's default\) or more"
    with pytest.raises(ConfigError, match=refusal):
        run_recbole_irllrec(model="BPR", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path, threads=-1))
