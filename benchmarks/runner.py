"""Shared by the benchmark scripts: train one model to early stopping and time its epochs."""
from __future__ import annotations

import csv
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recbole.utils import init_logger, init_seed  # noqa: E402

from dataset_prep.embedded import prepare_embedded  # noqa: E402
from recbole_irllrec.config import Config  # noqa: E402
from recbole_irllrec.quick_start import build_data_and_model  # noqa: E402
from recbole_irllrec.utils import get_trainer  # noqa: E402


def parse_sets(sets: list[str]) -> dict:
    """``["KEY=VALUE", ...]`` (values read as YAML) as a dict."""
    settings = {}
    for item in sets:
        key, value = item.split("=", 1)
        settings[key] = yaml.safe_load(value)
    return settings


def shared_settings(epochs: int, stopping_step: int) -> dict:
    """Settings every row of a benchmark shares, so the comparison is like for like."""
    return {
        "seed": 2020,
        "reproducibility": True,
        "gpu_id": "",
        "epochs": epochs,
        "train_batch_size": 2048,
        "learning_rate": 1e-3,
        "eval_step": 1,
        "stopping_step": stopping_step,
        "embedding_size": 32,
        "n_layers": 3,
        "eval_batch_size": 1_000_000,
        "state": "WARNING",
    }


def run_one(name: str, model: str, config_dict: dict, dataset: str = "ml-100k") -> dict:
    """Train ``model`` with RecBole's trainer to early stopping on the validation
    metric and test the best checkpoint. ``sec_per_epoch`` is the median time of
    RecBole's ``_train_epoch`` (forward, backward, optimiser step; no evaluation)."""
    config = Config(model=model, dataset=dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    _, model_obj, train_data, valid_data, test_data = build_data_and_model(config, prepare_embedded)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    epoch_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_train_epoch(*args, **kwargs):
        start = time.perf_counter()
        out = train_epoch(*args, **kwargs)
        epoch_seconds.append(time.perf_counter() - start)
        return out

    trainer._train_epoch = timed_train_epoch
    trainer.fit(train_data, valid_data, saved=True, show_progress=False, verbose=False)
    test = trainer.evaluate(test_data, load_best_model=True)
    return {
        "model": name,
        "epochs": len(epoch_seconds),
        "recall@20": test["recall@20"],
        "ndcg@20": test["ndcg@20"],
        "sec_per_epoch": statistics.median(epoch_seconds),
    }


def write_csv(path: str | Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
