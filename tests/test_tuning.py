"""Ray Tune search: space files, metric checks, and real searches through Ray."""
from __future__ import annotations

import ast
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ray import tune

from conftest import METRICS, TINY, tiny_config
from recbole_irllrec.config import Config
from recbole_irllrec.tuning.search import SearchSettings, run_search
from recbole_irllrec.tuning.space import SpaceError, load_space
from recbole_irllrec.tuning.cli import config_overrides
from recbole_irllrec.tuning.search import resolve_metric
from recbole_irllrec.tuning.trial import device_settings

REPO = Path(__file__).resolve().parents[1]
RUN_SCRIPT = REPO / "run_recbole_irllrec.py"


def _space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_space_kinds(tmp_path):
    space = load_space(
        _space(
            tmp_path,
            "intent_num: {choice: [32, 64]}\n"
            "kd_weight: {loguniform: [1.0e-4, 1.0e-1]}\n"
            "kd_temperature: {uniform: [0.1, 1.0]}\n"
            "n_layers: {grid: [2, 3]}\n",
        )
    )
    assert space["n_layers"] == tune.grid_search([2, 3])
    for _ in range(50):
        assert space["intent_num"].sample() in (32, 64)
        assert 1e-4 <= space["kd_weight"].sample() <= 1e-1
        assert 0.1 <= space["kd_temperature"].sample() <= 1.0
    # loguniform samples spread over the decades, unlike uniform
    samples = [space["kd_weight"].sample() for _ in range(400)]
    assert sum(s < 1e-3 for s in samples) > 60


def test_shipped_irllrec_space_names_irllrec_keys():
    space = load_space(REPO / "properties" / "hyper" / "IRLLRec.yaml")
    assert {"intent_num", "kd_weight", "kd_int_weight", "kd_temperature", "kd_int_temperature"} <= set(space)
    config = Config(model="IRLLRec", dataset=TINY, config_dict={"data_path": "/nonexistent"})
    assert all(key in config.final_config_dict for key in space)


@pytest.mark.parametrize(
    "text, message",
    [
        ("kd_weight: {normal: [0, 1]}", "unknown kind 'normal'"),
        ("kd_weight: {uniform: [1.0]}", r"needs \[low, high\]"),
        ("kd_weight: {loguniform: [1e-4, 1.0e-1]}", "write 1.0e-4"),
        ("kd_weight: {loguniform: [0.0, 1.0]}", "low > 0"),
        ("kd_weight: {uniform: [0.5, 0.1]}", "low < high"),
        ("kd_weight: {choice: []}", "non-empty list"),
        ("kd_weight: 0.1", "exactly one of"),
        ("- kd_weight", "expected a mapping"),
    ],
)
def test_space_errors_name_file_and_key(tmp_path, text, message):
    path = _space(tmp_path, text)
    with pytest.raises(SpaceError, match=message) as error:
        load_space(path)
    assert str(path) in str(error.value)


def test_unknown_key_is_refused_before_ray_and_gpus_stay_visible(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,2")
    settings = SearchSettings(space_file=str(_space(tmp_path, "kd_wieght: {choice: [0.1]}")))
    with pytest.raises(SpaceError, match="kd_wieght"):
        run_search(settings, model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    # RecBole's Config set CUDA_VISIBLE_DEVICES to gpu_id ''; Ray must still see both GPUs
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1,2"


def test_metric_defaults_and_checks(tiny_data, tmp_path):
    config = Config(model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
    assert resolve_metric(config, None, None) == ("ndcg@20", "max")
    assert resolve_metric(config, "Recall@10", "max") == ("recall@10", "max")
    with pytest.raises(ValueError, match=r"ndcg@10"):
        resolve_metric(config, "mrr@10", None)
    with pytest.raises(ValueError, match="contradicts RecBole"):
        resolve_metric(config, None, "min")


def test_trials_keep_the_gpus_ray_assigned():
    assert device_settings([]) == {"gpu_id": "", "use_gpu": False}
    assert device_settings(["3"]) == {"gpu_id": "3", "use_gpu": True}
    assert device_settings([0, 1]) == {"gpu_id": "0,1", "use_gpu": True}


def test_config_overrides():
    assert config_overrides(["--epochs=1", "--topk=[10,20]"]) == {"epochs": "1", "topk": "[10,20]"}
    with pytest.raises(ValueError, match="unexpected argument 'epochs=1'.*--key=value"):
        config_overrides(["epochs=1"])


def test_objective_reports_every_validation(tiny_data, tmp_path):
    from recbole_irllrec.quick_start import objective_function

    seen = []
    config = tiny_config(tiny_data, tmp_path, model="IRLLRec", dataset=TINY, epochs=3, eval_step=1)
    outcome = objective_function(config, on_valid=lambda *report: seen.append(report))
    assert [epoch for epoch, _, _ in seen] == [0, 1, 2]
    assert all(set(result) == METRICS and score == result["ndcg@20"] for _, score, result in seen)
    assert outcome["best_valid_score"] == max(score for _, score, _ in seen)


def _test_result(output: str) -> dict:
    line = re.findall(r"test result: OrderedDict\((\[.*\])\)", output)[-1]
    return dict(ast.literal_eval(line))


def test_two_trial_search_through_the_run_script_and_its_best_config_reruns(tiny_data, tmp_path):
    """The issue's check: a real 2-trial search (1 epoch each) through Ray, then best.yaml reruns."""
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_config(tiny_data, tmp_path)))
    space = _space(tmp_path, "kd_weight: {grid: [1.0e-3, 1.0e-2]}\n")
    out = tmp_path / "search"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    search = subprocess.run(
        [sys.executable, str(RUN_SCRIPT), "--model=IRLLRec", f"--dataset={TINY}", f"--config_files={settings}",
         "--tune", str(space), "--output", str(out), "--max-concurrent", "2", "--epochs=1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert search.returncode == 0, search.stderr[-3000:]
    # readable when captured: no warning of Ray's or RecBole's (each repeated per worker), no colour codes
    output = search.stdout + search.stderr
    assert "Warning" not in output and "\x1b[" not in output, output[-3000:]
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(float(r["kd_weight"]) for r in rows) == [1e-3, 1e-2]
    assert all(r["status"] == "done" and r["validations"] == "1" for r in rows)
    assert "best_valid_ndcg@20" in rows[0] and "test_recall@20" in rows[0]
    assert "best_valid_ndcg@20" in search.stdout  # the printed table

    best = yaml.safe_load((out / "best.yaml").read_text())
    best_row = max(rows, key=lambda r: float(r["best_valid_ndcg@20"]))
    assert best["model"] == "IRLLRec" and best["dataset"] == TINY
    assert best["kd_weight"] == pytest.approx(float(best_row["kd_weight"]))
    assert best["epochs"] == 1 and os.path.isabs(best["data_path"])

    # the run script takes best.yaml alone (model and dataset come from it) and gets the trial's test result
    rerun = subprocess.run(
        [sys.executable, str(RUN_SCRIPT), f"--config_files={out / 'best.yaml'}", "--state=INFO"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    again = _test_result(rerun.stdout + rerun.stderr)
    for key, value in again.items():
        assert value == pytest.approx(float(best_row[f"test_{key}"]), abs=1e-4)


def _write_clustered(root: Path, name: str = "clusters", n_users: int = 40, n_items: int = 40, groups: int = 4) -> None:
    """Users of group g interact only with items of group g: one epoch of
    training separates the groups, an untrained model does not."""
    folder = root / name
    folder.mkdir(parents=True)
    per_group = n_items // groups
    parts = {"train": [], "valid": [], "test": []}
    for u in range(n_users):
        items = [(u % groups) * per_group + k for k in range(per_group)]
        items = items[u % per_group :] + items[: u % per_group]
        for k, i in enumerate(items[:8]):
            part = "train" if k < 6 else ("valid" if k == 6 else "test")
            parts[part].append(f"u{u}\ti{i}\n")
    for part, rows in parts.items():
        (folder / f"{name}.{part}.inter").write_text("user_id:token\titem_id:token\n" + "".join(rows))


def test_asha_stops_a_weak_trial_and_a_failed_trial_is_listed(tmp_path, capsys):
    _write_clustered(tmp_path / "data")
    config = {
        "data_path": str(tmp_path / "data"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "checkpoint_dir": str(tmp_path / "saved"),
        "epochs": 3,
        "eval_step": 1,
        "train_batch_size": 64,
        "metrics": ["Recall", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "gpu_id": "",
        "state": "ERROR",
    }
    # RecBole's own BPR; trials run one at a time in grid order: lr 0.05 learns and sets
    # ASHA's first rung; lr 0 keeps its random ranking and is cut after one validation;
    # lr -1 makes Adam raise
    space = _space(tmp_path, "learning_rate: {grid: [0.05, 0.0, -1.0]}\n")
    settings = SearchSettings(
        space_file=str(space), max_concurrent=1, grace_period=1, reduction_factor=2,
        output_dir=str(tmp_path / "search"), verbose=0,
    )
    outcome = run_search(settings, model="BPR", dataset="clusters", config_dict=config)
    table = outcome.table.set_index("learning_rate")
    assert table.loc[0.05, "status"] == "done" and table.loc[0.05, "validations"] == 3
    assert table.loc[0.0, "status"] == "stopped early" and table.loc[0.0, "validations"] == 1
    assert table.loc[0.0, "best_valid_ndcg@10"] < table.loc[0.05, "best_valid_ndcg@10"]
    assert table.loc[-1.0, "status"] == "error" and "Invalid learning rate" in table.loc[-1.0, "error"]
    printed = capsys.readouterr().out
    assert "1 trial(s) failed" in printed and "Invalid learning rate" in printed
    assert yaml.safe_load(outcome.best_config_file.read_text())["learning_rate"] == 0.05
    with open(outcome.results_file, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3


@pytest.mark.slow
def test_search_joins_a_running_cluster(tiny_data, tmp_path):
    """--address: trials run on a cluster started beforehand (`ray start --head`)."""
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
    port = "6391"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(ray_cli + ["start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"],
                   check=True, env=env, capture_output=True, timeout=120)
    try:
        settings = SearchSettings(
            space_file=str(_space(tmp_path, "kd_weight: {choice: [1.0e-3]}\n")),
            address=f"127.0.0.1:{port}", output_dir=str(tmp_path / "search"), verbose=0,
        )
        outcome = run_search(settings, model="IRLLRec", dataset=TINY, config_dict=tiny_config(tiny_data, tmp_path))
        assert list(outcome.table["status"]) == ["done"]
    finally:
        subprocess.run(ray_cli + ["stop"], env=env, capture_output=True, timeout=120)


# ---------------------------------------------------------------- keys the model does nothing with
def _config(model: str, **keys) -> Config:
    return Config(model=model, dataset=TINY, config_dict={"data_path": "/nonexistent", **keys})


def _kept(tmp_path, text: str, model: str, **keys) -> set[str]:
    from recbole_irllrec.tuning.space import drop_unread_keys

    path = _space(tmp_path, text)
    config = _config(model, **keys)
    return set(drop_unread_keys(path, load_space(path), config.model_class, config))


@pytest.mark.parametrize("backbone, own_key", [("DCCF", "dccf_intent_num"), ("BIGCF", "bigcf_intent_num")])
def test_intent_num_is_dropped_for_backbones_with_their_own_prototypes(tmp_path, capsys, backbone, own_key):
    space = "intent_num: {choice: [32, 64]}\nkd_weight: {choice: [0.01]}\n"
    assert _kept(tmp_path, space, "IRLLRec", backbone=backbone) == {"kd_weight"}
    note = capsys.readouterr().out
    assert "'intent_num'" in note and backbone in note and own_key in note
    # LightGCN reads it: nothing dropped, nothing said
    assert _kept(tmp_path, space, "IRLLRec", backbone="LightGCN") == {"intent_num", "kd_weight"}
    assert capsys.readouterr().out == ""


def test_a_searched_backbone_keeps_a_key_that_one_of_its_values_reads(tmp_path):
    assert _kept(tmp_path, "backbone: {grid: [LightGCN, DCCF]}\nintent_num: {choice: [32, 64]}\n", "IRLLRec") == {
        "backbone", "intent_num"}
    assert _kept(tmp_path, "backbone: {choice: [DCCF, BIGCF]}\nintent_num: {choice: [32, 64]}\n", "IRLLRec") == {
        "backbone"}


@pytest.mark.parametrize(
    "model, keys, space, kept",
    [
        ("GraphCF", {}, {"sgl_ssl_weight": "[0.1, 0.2]", "n_layers": "[2, 3]"}, {"n_layers"}),
        ("GraphCF", {"backbone": "SGL"}, {"sgl_ssl_weight": "[0.1, 0.2]", "simgcl_eps": "[0.1]"}, {"sgl_ssl_weight"}),
        ("DCCF", {}, {"layer_combine": "[sum, mean]", "dccf_intent_num": "[8, 16]", "backbone": "[SGL]"},
         {"dccf_intent_num"}),
        ("GraphCF", {"kd_weight": 0.1}, {"kd_weight": "[0.1]", "reg_weight": "[0.1]"}, {"reg_weight"}),
        ("RLMRecCon", {"kd_int_weight": 0.1}, {"kd_int_weight": "[0.1]", "kd_weight": "[0.1]"}, {"kd_weight"}),
        ("RLMRecGen", {"kd_weight": 0.1}, {"kd_weight": "[0.1]", "recon_weight": "[0.1]"}, {"recon_weight"}),
        ("BPR", {"kd_weight": 0.1}, {"kd_weight": "[0.1]"}, {"kd_weight"}),  # RecBole's models declare nothing
    ],
)
def test_unread_keys_of_each_model(tmp_path, capsys, model, keys, space, kept):
    text = "".join(f"{key}: {{choice: {values}}}\n" for key, values in space.items())
    assert _kept(tmp_path, text, model, **keys) == kept
    assert capsys.readouterr().out.count("not searching") == len(space) - len(kept)


def test_a_space_of_unread_keys_is_refused_before_ray(tiny_data, tmp_path, monkeypatch, capsys):
    import recbole_irllrec.tuning.search as search

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray started")

    monkeypatch.setattr(search.ray, "init", no_ray)
    settings = SearchSettings(space_file=str(_space(tmp_path, "intent_num: {grid: [32, 64]}\n")))
    config = tiny_config(tiny_data, tmp_path, backbone="DCCF")
    with pytest.raises(SpaceError, match=r"intent_num.*DCCF.*nothing to search"):
        run_search(settings, model="IRLLRec", dataset=TINY, config_dict=config)
    assert "dccf_intent_num" in capsys.readouterr().out
