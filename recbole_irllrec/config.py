"""RecBole's Config, aware of the plugin's models and property files."""
from __future__ import annotations

import ast
import os
import sys
import warnings

import yaml
from recbole.config import Config as RecBoleConfig

from recbole_irllrec.config_summary import config_summary
from recbole_irllrec.data.cold import cold_settings, embedded_folder_name, is_cold_split
from recbole_irllrec.config_sources import (
    COMMAND_LINE,
    CONFIG_DICT,
    DERIVED,
    ConfigSources,
    file_label,
    plugin_property_files,
)
from recbole_irllrec.credentials import secret_arguments, secret_findings
from recbole_irllrec.known_keys import unknown_keys
from recbole_irllrec.utils import get_model
from recbole_irllrec.value_checks import first_problem

EMBEDDED_DATASET = "ml-100k"
# what runs when neither an argument nor a config file names a model or dataset
DEFAULT_MODEL = "IRLLRec"
# keys of properties/overall.yaml that RecBole's log should list under "Evaluation"
PLUGIN_EVALUATION_KEYS = ("test_mask_valid_items",)


class ConfigError(ValueError):
    """A setting is refused; the message names the key (never a secret's value)."""


class UnknownKeyWarning(UserWarning):
    """A user's config key that nothing defines (likely misspelt); ``strict_keys: True`` refuses it."""


class RecordedValues(dict):
    """Settings that are already typed (e.g. read back from a checkpoint):
    Config takes them as they are, without converting any string. ``source``
    names where they were recorded (shown by :meth:`Config.source_of`)."""

    def __init__(self, values=(), source: str = "a checkpoint") -> None:
        super().__init__(values)
        self.source = source


class Config(RecBoleConfig):
    """Looks models up in the plugin first and merges the plugin's property files
    over RecBole's own defaults (RecBole ignores a plugin's property files).

    Merge order, lowest first (a later layer wins; RecBole's own order, model <
    dataset < config files < command line, with the plugin's files in between):

    1. RecBole's property files (its overall.yaml, model and dataset files)
    2. ``properties/overall.yaml``
    3. every ``properties/backbone/*.yaml`` (any model may compose any backbone)
    4. ``properties/model/<model>.yaml``
    5. ``properties/dataset/<dataset>.yaml`` (data and evaluation keys only;
       ``properties/dataset/_default.yaml`` for a dataset without its own file)
    6. ``properties/model/<model>/<dataset>.yaml`` (the model's values for that
       dataset where they differ from 4, e.g. published weights)
    7. ``recorded``: a checkpoint's recorded property values, when reloading one
    8. the user's ``config_file_list``, in order; 9. ``config_dict``; 10. the command line

    :attr:`sources` records which layer set each key (:meth:`source_of`;
    ``run_recbole_irllrec.py --show_config`` prints them all). A user key that
    no property file defines warns (:class:`UnknownKeyWarning`), naming the
    closest known key; ``strict_keys: True`` refuses it.

    Model and dataset come from the arguments, else the config files or dict,
    else IRLLRec on the embedded ml-100k.

    String values from the command line and the config dict are read as
    Python literals (``ast.literal_eval``: numbers, lists, dicts, booleans),
    never evaluated as code as RecBole's ``eval`` would; anything else stays a
    string. Credentials are refused by key name and by value, and the dataset
    must be one path component (RecBole names its log file after it). Settings
    that make RecBole unpickle saved datasets or data loaders are refused.

    ``data_path`` is made absolute (Ray Tune changes the working directory).
    For ``ml-100k`` RecBole always points at its bundled copy; here it points at
    ``<data_path>/ml-100k``, the copy dataset_prep builds with text features.
    """

    def __init__(
        self,
        model=None,
        dataset=None,
        config_file_list: list[str] | None = None,
        config_dict: dict | None = None,
        recorded: RecordedValues | None = None,
    ) -> None:
        # filled while RecBole's __init__ reads each layer
        self.sources = ConfigSources()
        self._recorded = recorded
        # a checkpoint's keys were checked when it was trained: on reload an unknown one only warns
        self._reloading = recorded is not None or isinstance(config_dict, RecordedValues)
        self._user_layers: list[tuple[str, dict]] = []
        # on reload, (key, recorded, today) where today's property files differ (quick_start.load_data_and_model)
        self.recorded_drift: list[tuple[str, object, object]] = []
        super().__init__(model, dataset, config_file_list, config_dict)

    def __str__(self) -> str:
        # what a run logs: the settings in force, not every key held (see config_summary)
        return config_summary(self)

    def source_of(self, key: str) -> str | None:
        """The layer that set ``key`` (a property file, a user config file,
        ``config_dict``, ``command line``, a checkpoint), ``derived by RecBole``
        for what RecBole computes, None for a key the config lacks."""
        if key not in self.final_config_dict:
            return None
        return self.sources.source_of(key) or DERIVED

    def _get_model_and_dataset(self, model, dataset):
        for key, given, default in (("model", model, DEFAULT_MODEL), ("dataset", dataset, EMBEDDED_DATASET)):
            if given is not None and self.external_config_dict.get(key) != given:
                self.sources.set_by_derivation(key, f"Config({key}=...)")
            elif key not in self.external_config_dict:
                self.sources.set_by_derivation(key, f"the plugin's default {key} ({default})")
        if model is None:
            model = self.external_config_dict.get("model", DEFAULT_MODEL)
        if isinstance(model, str):
            final_model, final_model_class = model, get_model(model)
        else:
            final_model, final_model_class = model.__name__, model
        if dataset is None:
            dataset = self.external_config_dict.get("dataset", EMBEDDED_DATASET)
        check_dataset_name(dataset)
        return final_model, final_model_class, dataset

    def _load_config_files(self, file_list):
        # RecBole's reading, one file at a time so each key knows its file
        merged = {}
        for file in file_list or []:
            with open(file, "r", encoding="utf-8") as f:
                values = yaml.load(f.read(), Loader=self.yaml_loader)
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: a config file holds `key: value` lines, got a {type(values).__name__}")
            merged.update(values)
            self._user_layers.append((str(file), values))
            self.sources.set_by_user(str(file), values)
        return merged

    def _load_variable_config_dict(self, config_dict):
        if isinstance(config_dict, RecordedValues):
            values = dict(config_dict)
            label = f"{config_dict.source} (recorded settings)"
        else:
            values = super()._load_variable_config_dict(config_dict)
            label = CONFIG_DICT
        self._user_layers.append((label, values))
        self.sources.set_by_user(label, values)
        return values

    def _load_cmd_line(self):
        # before RecBole reads sys.argv: it logs the words it does not understand
        found = secret_arguments(sys.argv[1:])
        if found:
            raise ConfigError(
                f"the command line carries what looks like a credential: {', '.join(found)}. RecBole logs "
                "the command line and the config; pass secrets through environment variables (e.g. OPENAI_API_KEY)."
            )
        values = super()._load_cmd_line()
        self._user_layers.append((COMMAND_LINE, values))
        self.sources.set_by_user(COMMAND_LINE, values)
        return values

    def _convert_config_dict(self, config_dict):
        """RecBole's conversion of string values, with literals instead of ``eval``."""
        for key, value in config_dict.items():
            if isinstance(value, str):
                config_dict[key] = literal_value(value)
        return config_dict

    def _update_internal_config_dict(self, file):
        # every property file, RecBole's and the plugin's, passes here
        config_dict = super()._update_internal_config_dict(file)
        if config_dict is not None:
            self.sources.set_by_property(file_label(file), config_dict)
        return config_dict

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        self.sources.set_by_property(DERIVED, ["MODEL_TYPE"])
        for path in plugin_property_files(model, dataset):
            config_dict = self._update_internal_config_dict(str(path)) or {}
            if path.parent.name == "dataset":
                self.parameters["Dataset"] += [k for k in config_dict if k not in self.parameters["Dataset"]]
        self.parameters["Evaluation"] += [k for k in PLUGIN_EVALUATION_KEYS if k not in self.parameters["Evaluation"]]
        if self._recorded:
            # a checkpoint's own values rather than today's property files (see quick_start.load_data_and_model)
            self.internal_config_dict.update(self._recorded)
            self.sources.set_by_property(f"{self._recorded.source} (recorded property values)", self._recorded)

    def _get_final_config_dict(self):
        final = super()._get_final_config_dict()
        self._check_user_keys(final)
        # before anything is logged or loaded: `--epochs=abc` would fail in the trainer
        problem = first_problem(self.external_config_dict, self.internal_config_dict, self.sources.source_of)
        if problem is not None:
            raise ConfigError(problem)
        return final

    def _check_user_keys(self, final: dict) -> None:
        found = unknown_keys(self._user_layers)
        if not found:
            return
        strict = final.get("strict_keys")
        if not isinstance(strict, bool):
            raise ConfigError(f"strict_keys must be True or False, got {strict!r}")
        if strict and not self._reloading:
            raise ConfigError("; ".join(found) + " (strict_keys: True refuses unknown keys)")
        for message in found:
            warnings.warn(message + " (strict_keys: True would refuse it)", UnknownKeyWarning, stacklevel=2)

    def _set_default_parameters(self):
        super()._set_default_parameters()
        cold = cold_settings(self.final_config_dict)
        if self.dataset == EMBEDDED_DATASET:
            root = self.external_config_dict.get("data_path", self.internal_config_dict["data_path"])
            self.final_config_dict["data_path"] = os.path.join(root, embedded_folder_name(self.dataset, *cold))
        elif is_cold_split(*cold[:2]):
            # the split must exist before texts are written from its train file: it cannot be drawn at load time
            raise ConfigError(
                f"cold_item_ratio / cold_user_ratio split the embedded {EMBEDDED_DATASET} only; for {self.dataset!r} "
                "make the cold split on disk first (python -m dataset_prep cold-split), write texts and vectors "
                "from its train file, and train on that folder with the ratios left at 0"
            )
        self.final_config_dict["data_path"] = os.path.abspath(self.final_config_dict["data_path"])
        self.sources.set_by_derivation("data_path", "derived: <data_path>/<dataset>, absolute")
        self.sources.set_by_derivation("valid_metric_bigger", f"{DERIVED} from valid_metric")
        refuse_secrets(self.final_config_dict)
        refuse_pickled_data(self.final_config_dict)


def literal_value(text: str):
    """A command-line or config-dict string as RecBole types it (``'1e-3'`` ->
    0.001, ``'[5,10]'`` -> list, ``'true'`` -> True), but only through Python's
    literal syntax: an expression stays the string it is."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"true": True, "false": False}.get(text.lower(), text)
    # literal_eval also builds sets, bytes and complex numbers; RecBole's config knows none of them
    return value if value is None or isinstance(value, (str, int, float, list, tuple, dict, bool)) else text


def check_dataset_name(name) -> None:
    """The dataset names a folder under ``data_path`` and RecBole's log file:
    one path component, so nothing is read or written outside them."""
    if not isinstance(name, str):
        raise ConfigError(f"dataset must be a name, got {type(name).__name__}")
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if name in ("", ".", "..") or any(sep in name for sep in separators) or "\0" in name:
        raise ConfigError(
            f"dataset {name!r} is not a single folder name: it names <data_path>/<dataset>/ and RecBole's "
            "log file, so it may not contain a path separator or be '.' or '..'"
        )


def refuse_secrets(config: dict) -> None:
    """Raise if a key is named like a credential or a value has a credential's
    shape: RecBole would write it to its log, checkpoints and TensorBoard."""
    found = secret_findings(config)
    if found:
        raise ConfigError(
            f"config key(s) {found} look like credentials (by name or value; values are not shown). RecBole "
            "writes the whole config to its log and checkpoints, so keep secrets in environment variables "
            "(e.g. OPENAI_API_KEY) instead"
        )


# RecBole keys that make it pickle the data and, on a later run, unpickle it
# (recbole.data.utils.create_dataset / data_preparation) instead of reading the atomic files
PICKLED_DATA_KEYS = {
    "save_dataset": "RecBole would pickle the Dataset to saved/<dataset>-<class>.pth",
    "dataset_save_path": "RecBole's create_dataset would unpickle the Dataset saved there",
    "save_dataloaders": "RecBole would pickle the split data loaders to saved/<dataset>-for-<model>-dataloader.pth",
    "dataloaders_save_path": "RecBole's data_preparation would unpickle the data loaders saved there",
}


def refuse_pickled_data(config: dict) -> None:
    """Raise if a setting asks RecBole to save or load a pickled dataset or data
    loaders: loading one skips the text-feature validation (the model would
    train on the vectors of whatever run saved it) and unpickling runs code."""
    for key, what in PICKLED_DATA_KEYS.items():
        if config.get(key) not in (None, False):
            raise ConfigError(
                f"{key}: {config[key]!r} is refused: {what}, skipping the validation of the atomic files and text "
                "features (and unpickling can run code). recbole-irllrec builds the data from the atomic files on "
                f"every run; remove {key}."
            )
