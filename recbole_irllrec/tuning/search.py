"""Ray Tune search over RecBole config keys, for plugin and RecBole models.

The driver checks the space and the config, prepares the dataset once, then
lets Tune run :func:`~recbole_irllrec.tuning.trial.run_trial` per sample. Every
validation is reported, so ASHA can stop weak trials; a failed trial is
recorded with its error and the others go on.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import colorama
import pandas as pd
import ray
from ray import air, tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from recbole.evaluator.register import metric_types, smaller_metrics
from recbole.utils import EvaluatorType

from recbole_irllrec.config import Config
from recbole_irllrec.data.found import check_dataset_found
from recbole_irllrec.tuning.errors import SearchFailed
from recbole_irllrec.tuning.results import (
    ERROR,
    best_row,
    format_table,
    trial_table,
    write_best_config,
    write_table,
)
from recbole_irllrec.tuning.space import SpaceError, drop_unread_keys, load_space
from recbole_irllrec.tuning.trial import run_trial

RESULTS_FILE = "results.csv"
BEST_CONFIG_FILE = "best.yaml"


@dataclass
class SearchSettings:
    """How to search; metric and mode default to RecBole's ``valid_metric``."""

    space_file: str
    num_samples: int = 1
    max_concurrent: Optional[int] = None
    metric: Optional[str] = None
    mode: Optional[str] = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: Optional[str] = None
    scheduler: str = "asha"
    grace_period: int = 1
    reduction_factor: int = 4
    output_dir: Optional[str] = None
    verbose: int = 1


@dataclass
class SearchOutcome:
    table: pd.DataFrame
    output_dir: Path
    results_file: Path
    best_config_file: Optional[Path] = None
    best: dict = field(default_factory=dict)


@contextlib.contextmanager
def _visible_devices_kept() -> Iterator[None]:
    # RecBole's Config overwrites CUDA_VISIBLE_DEVICES; Ray must still see every GPU
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def validation_keys(config: Config) -> list[str]:
    """The names RecBole gives the validation metrics (``ndcg@20``, ``auc``, ...)."""
    keys = []
    for name in config["metrics"]:
        name = name.lower()
        if metric_types.get(name) == EvaluatorType.RANKING:
            keys += [f"{name}@{k}" for k in config["topk"]]
        else:
            keys.append(name)
    return keys


def resolve_metric(config: Config, metric: str | None, mode: str | None) -> tuple[str, str]:
    """The reported key to optimise and its direction, checked against RecBole's."""
    metric = (metric or config["valid_metric"]).lower()
    known = validation_keys(config)
    if metric not in known:
        raise ValueError(f"metric {metric!r} is not computed at validation; choose one of {known} (from `metrics` and `topk`)")
    natural = "min" if metric.split("@")[0] in smaller_metrics else "max"
    if mode is not None and mode != natural:
        raise ValueError(
            f"mode {mode!r} contradicts RecBole, which early-stops and keeps the best checkpoint by "
            f"{metric} with mode {natural!r}"
        )
    return metric, natural


def _scheduler(settings: SearchSettings, config: Config):
    if settings.scheduler == "fifo":
        return FIFOScheduler()
    if settings.scheduler != "asha":
        raise ValueError(f"scheduler must be 'asha' or 'fifo', got {settings.scheduler!r}")
    # one report per validation plus the final one with the test result
    max_t = config["epochs"] // config["eval_step"] + 1
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=max(1, min(settings.grace_period, max_t)),
        reduction_factor=settings.reduction_factor,
    )


def _trial_dirname(trial) -> str:
    # Ray's default folder name repeats every parameter value; the table has them
    return f"trial_{trial.trial_id}"


def _output_dir(settings: SearchSettings, config: Config) -> Path:
    if settings.output_dir:
        return Path(settings.output_dir).absolute()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("saved", "tune", f"{config['model']}-{config['dataset']}-{stamp}").absolute()


def _tuner(settings, config, space, fixed, config_files, metric, mode, out) -> tune.Tuner:
    # progress: Ray's own trial table (its 2.6 output engine), at settings.verbose
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, base=fixed, config_files=config_files or None),
        {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
    )
    return tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=metric,
            mode=mode,
            num_samples=settings.num_samples,
            max_concurrent_trials=settings.max_concurrent,
            scheduler=_scheduler(settings, config),
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=air.RunConfig(
            name="trials",
            storage_path=str(out),
            failure_config=air.FailureConfig(max_failures=0),
            verbose=settings.verbose,
        ),
    )


def run_search(
    settings: SearchSettings,
    model: str | None = None,
    dataset: str | None = None,
    config_file_list: list[str] | None = None,
    config_dict: dict | None = None,
    prepare: Optional[Callable[[Config], None]] = None,
) -> SearchOutcome:
    """Search ``settings.space_file`` for ``model`` on ``dataset`` and write
    ``results.csv`` and ``best.yaml`` (a config the run script accepts).
    Raises :class:`SearchFailed` when no trial ran through."""
    space = load_space(settings.space_file)
    config_files = [str(Path(f).absolute()) for f in config_file_list or []]
    with _visible_devices_kept():
        config = Config(model=model, dataset=dataset, config_file_list=config_files or None, config_dict=config_dict)
    check_dataset_found(config)
    unknown = sorted(k for k in space if k not in config.final_config_dict)
    if unknown:
        raise SpaceError(
            f"{settings.space_file}: {unknown} are not config keys of {config['model']} "
            "(not in RecBole's defaults, the plugin's property files or your config)"
        )
    space = drop_unread_keys(settings.space_file, space, config.model_class, config)
    if not config["eval_step"] or config["eval_step"] <= 0:
        raise ValueError("a search needs validation: set eval_step >= 1")
    metric, mode = resolve_metric(config, settings.metric, settings.mode)
    if prepare is not None:
        prepare(config)  # once, here, rather than racing in every trial

    # what every trial (and a rerun of the best) starts from: the user's settings
    # as RecBole read them; Ray changes the working directory per trial, so the
    # data root goes in absolute
    fixed = {
        **config.variable_config_dict,
        **config.cmd_config_dict,
        "model": config["model"],
        "dataset": config["dataset"],
        "data_path": os.path.dirname(config["data_path"]),
        "valid_metric": metric,
    }
    out = _output_dir(settings, config)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=settings.address, include_dashboard=False)
    try:
        # Ray colours its workers' log prefixes whatever the stream: colorama strips them where it is no terminal
        with colorama.colorama_text():
            grid = _tuner(settings, config, space, fixed, config_files, metric, mode, out).fit()
    finally:
        if started_here:
            ray.shutdown()

    table = trial_table(grid, list(space), metric, mode)
    outcome = SearchOutcome(table=table, output_dir=out, results_file=out / RESULTS_FILE)
    write_table(table, outcome.results_file)
    best = best_row(table, metric, mode)
    if best is not None:
        rerun = {**config.file_config_dict, **fixed, **{name: best[name] for name in space}}
        header = (
            f"Best of the search in {out} (trial {best['trial']}): "
            f"valid {metric} {best[f'best_valid_{metric}']:.4f}\n"
            f"Rerun: python run_recbole_irllrec.py --config_files {out / BEST_CONFIG_FILE}"
        )
        outcome.best_config_file = out / BEST_CONFIG_FILE
        outcome.best = rerun
        write_best_config(rerun, header, outcome.best_config_file)
    _print_summary(outcome, metric)
    if len(table) and (table["status"] == ERROR).all():
        first = table.iloc[0]
        raise SearchFailed(
            f"every trial failed ({len(table)}); the first, {first['trial']}: {first['error']} "
            f"(results: {outcome.results_file})"
        )
    return outcome


def _print_summary(outcome: SearchOutcome, metric: str) -> None:
    table = outcome.table
    print(format_table(table) if len(table) else "no trials ran")
    failed = table[table["status"] == ERROR] if len(table) else table
    if len(failed):
        print(f"\n{len(failed)} trial(s) failed (traceback in each trial folder's error.txt):")
        for _, row in failed.iterrows():
            print(f"  {row['trial']}: {row['error']}  [{row['path']}]")
    print(f"\nresults: {outcome.results_file}")
    if outcome.best_config_file is not None:
        print(f"best config ({metric}): {outcome.best_config_file}")
    else:
        print("no trial finished a validation: no best config written")
