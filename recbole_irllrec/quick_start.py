"""Entry points mirroring ``recbole.quick_start``, for plugin and RecBole models.

``prepare`` is an optional callable that gets the Config before the dataset is
loaded; the run script passes dataset_prep's builder of the embedded default
(this package never imports dataset_prep).
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from logging import getLogger
from typing import Callable, Optional

import torch
from recbole.data import data_preparation
from recbole.data.dataset import Dataset
from recbole.utils import ModelType, init_logger, init_seed, set_color

from recbole_irllrec.checkpoint import (
    as_property_values,
    check_numbers,
    config_drift,
    load_checkpoint,
    plain,
    recorded_property_values,
    recorded_settings,
)
from recbole_irllrec.config import Config, ConfigError, RecordedValues, UnknownKeyWarning
from recbole_irllrec.console_log import init_console_logger
from recbole_irllrec.data import CheckedDataset, TextFeatureDataset
from recbole_irllrec.data.found import check_dataset_found
from recbole_irllrec.data.masking import apply_test_masking
from recbole_irllrec.data.text_features import configured_text_columns
from recbole_irllrec.utils import get_model, get_trainer

Prepare = Optional[Callable[[Config], None]]


def create_dataset(config: Config) -> Dataset:
    """Build the dataset from its atomic files (never from a pickled
    ``saved/*-Dataset.pth``, which RecBole would unpickle). Datasets that
    declare text features get :class:`TextFeatureDataset` wherever RecBole
    would use its plain ``Dataset`` (plugin and RecBole models alike): it
    reads only the text columns the model uses, fast, and validates them;
    other datasets get :class:`CheckedDataset` (checked files, literal ids)."""
    module = importlib.import_module("recbole.data.dataset")
    if hasattr(module, config["model"] + "Dataset"):
        return getattr(module, config["model"] + "Dataset")(config)
    type2class = {
        ModelType.GENERAL: "Dataset",
        ModelType.SEQUENTIAL: "SequentialDataset",
        ModelType.CONTEXT: "Dataset",
        ModelType.KNOWLEDGE: "KnowledgeBasedDataset",
        ModelType.TRADITIONAL: "Dataset",
        ModelType.DECISIONTREE: "Dataset",
    }
    if type2class[config["MODEL_TYPE"]] == "Dataset":
        # files checked and ids read literally (a user "NA" is no padding) with or without text
        return TextFeatureDataset(config) if configured_text_columns(config) else CheckedDataset(config)
    return getattr(module, type2class[config["MODEL_TYPE"]])(config)


def build_data_and_model(config: Config, prepare: Prepare = None):
    """Dataset, model and the three data loaders for ``config`` (the steps
    between the Config and the trainer). Every entry point (run, objective,
    checkpoint reload) builds its loaders here, so the test masking chosen by
    ``test_mask_valid_items`` is applied the same way everywhere."""
    use_threads(config)
    if prepare is not None:
        prepare(config)
    dataset = create_dataset(config)
    check_topk_fits(config, dataset)
    refuse_saved_dataloaders(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    apply_test_masking(config, train_data, test_data)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    return dataset, model, train_data, valid_data, test_data


def check_topk_fits(config: Config, dataset: Dataset) -> None:
    """Refuse a top-k longer than the item list before training: RecBole's evaluation would
    stop on it ('selected index k out of range') only after the first epoch."""
    items = dataset.item_num - 1  # without the padding id
    if max(config["topk"]) > items:
        raise ConfigError(
            f"topk {config['topk']} asks for more than the {items} items of dataset '{config['dataset']}'; "
            f"set topk (and valid_metric) to at most {items}, e.g. --topk=[{min(5, items)}] "
            f"--valid_metric=Recall@{min(5, items)}"
        )


def use_threads(config: Config) -> None:
    """torch's CPU threads: ``threads``, or torch's default (one per core) for 0."""
    if config["threads"]:
        torch.set_num_threads(config["threads"])


def progress_bars(config: Config) -> bool:
    """RecBole's ``show_progress``, on a terminal only: captured in a log, each
    bar is a stream of carriage-return redraws (RecBole draws them on stderr)."""
    return config["show_progress"] and sys.stderr.isatty()


def run_recbole_irllrec(
    model: str | None = None,
    dataset: str | None = None,
    config_file_list: list[str] | None = None,
    config_dict: dict | None = None,
    saved: bool = True,
    prepare: Prepare = None,
) -> dict:
    """Train and test one model (plugin or RecBole) on one dataset, logging as
    RecBole's ``run_recbole`` does; returns the same result dict."""
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    check_dataset_found(config)  # before the log and the data loading
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(sys.argv)
    logger.info(config)

    dataset_obj, model_obj, train_data, valid_data, test_data = build_data_and_model(config, prepare)
    logger.info(dataset_obj)
    logger.info(model_obj)

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    progress = progress_bars(config)
    best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=saved, show_progress=progress)
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=progress)

    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "saved_model_file": trainer.saved_model_file if saved else None,
    }


OnValid = Optional[Callable[[int, float, dict], None]]


def objective_function(
    config_dict: dict | None = None,
    config_file_list: list[str] | None = None,
    saved: bool = True,
    prepare: Prepare = None,
    on_valid: OnValid = None,
) -> dict:
    """One trial for hyperparameter search, as RecBole's ``objective_function``.

    ``on_valid(epoch, valid_score, valid_result)`` runs after every validation
    (through the trainer's ``callback_fn``); Ray Tune trials report with it.
    """
    config = Config(config_dict=config_dict, config_file_list=config_file_list)
    init_seed(config["seed"], config["reproducibility"])
    logging.basicConfig(level=logging.ERROR)
    _, model_obj, train_data, valid_data, test_data = build_data_and_model(config, prepare)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    callback = None
    if on_valid is not None:

        def callback(epoch_idx: int, valid_score: float) -> None:
            on_valid(epoch_idx, valid_score, dict(trainer.last_valid_result))

    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, verbose=False, saved=saved, callback_fn=callback
    )
    test_result = trainer.evaluate(test_data, load_best_model=saved)
    return {
        "model": config["model"],
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
    }


def refuse_saved_dataloaders(config: Config) -> None:
    """RecBole's ``data_preparation`` unpickles ``<checkpoint_dir>/<dataset>-for-<model>-dataloader.pth``
    whenever that file exists, whatever ``save_dataloaders`` says (RecBole itself writes
    it with ``save_dataloaders: True``): refuse rather than train on stale, unvalidated data."""
    path = os.path.join(config["checkpoint_dir"], f"{config['dataset']}-for-{config['model']}-dataloader.pth")
    if os.path.exists(path):
        raise ConfigError(
            f"{path} exists: RecBole's data_preparation would unpickle these saved data loaders instead of "
            "building them from the atomic files (skipping the text-feature validation, and unpickling can run "
            "code). Remove the file or set another checkpoint_dir."
        )


def load_data_and_model(model_file: str, prepare: Prepare = None):
    """Rebuild config, data and model from a checkpoint of this plugin (loaded
    with ``weights_only=True``), with the best parameters restored.

    The config is the one the checkpoint was trained with: the user's recorded
    settings over the property values recorded in the checkpoint (its final
    config less what RecBole derives and the environment: device, logging,
    paths), not today's property files. Every key where today's files would
    give another value is logged as a warning and kept in
    ``config.recorded_drift`` as ``(key, recorded, today)``.

    The recorded settings must be plain data and are taken as they are: a
    checkpoint can hold a string, never code that runs."""
    checkpoint = load_checkpoint(model_file, map_location="cpu")
    model, dataset, settings = recorded_settings(checkpoint, model_file)
    recorded = recorded_property_values(checkpoint, model_file)
    # what today's property files give for the same user settings (the comparison, and the expected types)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownKeyWarning)  # the rebuild below warns once
        today = Config(model=model, dataset=dataset, config_dict=RecordedValues(settings, source=model_file))
    check_numbers(settings, today.internal_config_dict, model_file)
    check_numbers(recorded, today.internal_config_dict, model_file)
    config = Config(
        model=model,
        dataset=dataset,
        config_dict=RecordedValues(settings, source=model_file),
        recorded=RecordedValues(as_property_values(recorded), source=model_file) if recorded else None,
    )
    drift = config_drift(recorded, plain(today.final_config_dict), settings) if recorded else []
    config.recorded_drift = drift
    init_seed(config["seed"], config["reproducibility"])
    init_console_logger(config)  # reading a checkpoint leaves no file in log/
    if not recorded:
        getLogger().warning(f"{model_file} records no final config: today's property files fill in the rest")
    if drift:
        getLogger().warning(
            f"{model_file}: {len(drift)} setting(s) recorded in the checkpoint differ from today's property files; "
            "the model is rebuilt with the recorded ones: "
            + "; ".join(f"{key}: recorded {then!r}, today {now!r}" for key, then, now in drift)
        )
    dataset, model, train_data, valid_data, test_data = build_data_and_model(config, prepare)
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data
