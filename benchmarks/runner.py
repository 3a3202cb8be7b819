"""Shared by the benchmark scripts: train one model to early stopping and time its
epochs; the model variants, dataset settings and output folders of the benchmarks."""
from __future__ import annotations

import csv
import os
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recbole.utils import init_logger, init_seed  # noqa: E402

from dataset_prep.embedded import prepare_embedded  # noqa: E402
from recbole_irllrec.atomic_io import atomic_open  # noqa: E402
from recbole_irllrec.checkpoint import load_checkpoint  # noqa: E402
from recbole_irllrec.config import Config  # noqa: E402
from recbole_irllrec.properties_path import properties_dir  # noqa: E402
from recbole_irllrec.quick_start import build_data_and_model  # noqa: E402
from recbole_irllrec.utils import get_trainer  # noqa: E402


# IRLLRec as the reference computes it (issue 12's scalable options all off)
FAITHFUL = {
    "candidate_scope": "all",
    "align_scope": "all",
    "teacher_reinit": True,
    "text_proj_dim": 0,
    "tower_hidden": 0,
    "text_batch_size": 0,
    "intent_neighbors": 0,
}
# properties/scalable.yaml, the O(batch) setting
with open(Path(__file__).resolve().parents[1] / "properties" / "scalable.yaml", encoding="utf-8") as _f:
    SCALABLE = yaml.safe_load(_f)
# GraphCF reads no text: the dataset is built from the interactions only
NO_TEXT = {
    "load_col": {"inter": ["user_id", "item_id"]},
    "additional_feat_suffix": None,
    "alias_of_user_id": None,
    "alias_of_item_id": None,
    "preload_weight": None,
}
# variant -> (model, config overrides); "default" = whatever the property files say
VARIANTS = {
    "GraphCF": ("GraphCF", NO_TEXT),
    "RLMRecCon": ("RLMRecCon", {}),
    "IRLLRec": ("IRLLRec", {}),
    "IRLLRec-faithful": ("IRLLRec", FAITHFUL),
    "IRLLRec-scalable": ("IRLLRec", SCALABLE),
}


def dataset_settings(name: str, data_dir: str | Path) -> dict:
    """Config keys that locate dataset ``name`` under ``data_dir``. ``ml-100k`` and
    ``amazon-book`` get their property files merged by name; other Amazon-book
    subsets (``amazon-book-2500``) get the keys of properties/dataset/amazon-book.yaml."""
    settings = {"data_path": str(Path(data_dir).resolve())}
    if name.startswith("amazon-book-"):
        with open(properties_dir() / "dataset" / "amazon-book.yaml", encoding="utf-8") as f:
            settings = {**yaml.safe_load(f), **settings}
    return settings


def enter_run_dir(data_dir: str | Path, script: str) -> Path:
    """Make ``<data_dir>/runs/<script>`` the working directory (RecBole writes log/
    and log_tensorboard/ there) and return it; checkpoints go to its saved/."""
    run_dir = Path(data_dir).resolve() / "runs" / script
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(run_dir)
    return run_dir


def parse_sets(sets: list[str]) -> dict:
    """``["KEY=VALUE", ...]`` (values read as YAML) as a dict."""
    settings = {}
    for item in sets:
        key, value = item.split("=", 1)
        settings[key] = yaml.safe_load(value)
    return settings


SHARED_CONFIG = Path(__file__).resolve().parent / "configs" / "ml100k_shared.yaml"


def shared_settings(epochs: int, stopping_step: int) -> dict:
    """Settings every row of a benchmark shares, so the comparison is like for like
    (``configs/ml100k_shared.yaml``, which the ml-100k weight search reads too)."""
    with open(SHARED_CONFIG, encoding="utf-8") as f:
        settings = yaml.safe_load(f)
    return {**settings, "epochs": epochs, "stopping_step": stopping_step}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def intervals_separate(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether mean ± std intervals do not overlap: the only gain called real here."""
    (ma, sa), (mb, sb) = a, b
    return ma - sa > mb + sb or mb - sb > ma + sa


def _run_task(task: tuple) -> dict:
    # one training run in a worker process: one thread, its own working directory
    name, model, config_dict, dataset, run_dir = task
    import warnings

    import torch

    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole's pandas idioms
    torch.set_num_threads(1)
    os.chdir(run_dir)
    return run_one(name, model, config_dict, dataset=dataset)


def run_many(tasks: list[tuple[str, str, dict, str]], run_dir: Path, jobs: int, on_done) -> None:
    """Run ``(name, model, config_dict, dataset)`` tasks, ``jobs`` at a time in fresh
    processes (one thread each); ``on_done(task, result)`` runs in this process as each
    finishes. The dataset must be prepared beforehand (workers would race to build it)."""
    if jobs <= 1:
        for task in tasks:
            on_done(task, _run_task((*task, run_dir)))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    os.environ["OMP_NUM_THREADS"] = "1"
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_run_task, (*task, run_dir)): task for task in tasks}
        for future in as_completed(futures):
            on_done(futures[future], future.result())


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
    _, valid = trainer.fit(train_data, valid_data, saved=True, show_progress=False, verbose=False)
    # the test split is read once, with the best-validation checkpoint
    test = trainer.evaluate(test_data, load_best_model=True)
    best_epoch = load_checkpoint(trainer.saved_model_file, map_location="cpu")["epoch"]
    return {
        "model": name,
        "epochs": len(epoch_seconds),
        "best_epoch": best_epoch,
        "recall@20": test["recall@20"],
        "ndcg@20": test["ndcg@20"],
        "valid_recall@20": (valid or {}).get("recall@20"),
        "valid_ndcg@20": (valid or {}).get("ndcg@20"),
        "sec_per_epoch": statistics.median(epoch_seconds),
    }


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Write ``rows`` (the first row's keys as header) atomically."""
    with atomic_open(path, "w") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
