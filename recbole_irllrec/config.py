"""RecBole's Config, aware of the plugin's models and property files."""
from __future__ import annotations

import ast
import os
import sys

from recbole.config import Config as RecBoleConfig

from recbole_irllrec.credentials import secret_arguments, secret_findings
from recbole_irllrec.properties_path import properties_dir
from recbole_irllrec.utils import get_model

EMBEDDED_DATASET = "ml-100k"
# what runs when neither an argument nor a config file names a model or dataset
DEFAULT_MODEL = "IRLLRec"
# keys of properties/overall.yaml that RecBole's log should list under "Evaluation"
PLUGIN_EVALUATION_KEYS = ("test_mask_valid_items",)


class ConfigError(ValueError):
    """A setting is refused; the message names the key (never a secret's value)."""


class RecordedValues(dict):
    """Settings that are already typed (e.g. read back from a checkpoint):
    Config takes them as they are, without converting any string."""


class Config(RecBoleConfig):
    """Looks models up in the plugin first and merges ``properties/overall.yaml``,
    ``properties/model/<model>.yaml`` and ``properties/dataset/<dataset>.yaml``
    (in this order) over RecBole's own defaults (RecBole ignores a plugin's property files).

    Model and dataset come from the arguments, else the config files or dict,
    else IRLLRec on the embedded ml-100k.

    String values from the command line and the config dict are read as
    Python literals (``ast.literal_eval``: numbers, lists, dicts, booleans),
    never evaluated as code as RecBole's ``eval`` would; anything else stays a
    string. Credentials are refused by key name and by value, and the dataset
    must be one path component (RecBole names its log file after it).

    ``data_path`` is made absolute (Ray Tune changes the working directory).
    For ``ml-100k`` RecBole always points at its bundled copy; here it points at
    ``<data_path>/ml-100k``, the copy dataset_prep builds with text features.
    """

    def _get_model_and_dataset(self, model, dataset):
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

    def _load_variable_config_dict(self, config_dict):
        if isinstance(config_dict, RecordedValues):
            return dict(config_dict)
        return super()._load_variable_config_dict(config_dict)

    def _load_cmd_line(self):
        # before RecBole reads sys.argv: it logs the words it does not understand
        found = secret_arguments(sys.argv[1:])
        if found:
            raise ConfigError(
                f"the command line carries what looks like a credential: {', '.join(found)}. RecBole logs "
                "the command line and the config; pass secrets through environment variables (e.g. OPENAI_API_KEY)."
            )
        return super()._load_cmd_line()

    def _convert_config_dict(self, config_dict):
        """RecBole's conversion of string values, with literals instead of ``eval``."""
        for key, value in config_dict.items():
            if isinstance(value, str):
                config_dict[key] = literal_value(value)
        return config_dict

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        root = properties_dir()
        # plugin-wide defaults (e.g. test_mask_valid_items) first, so model and dataset files win
        self._update_internal_config_dict(str(root / "overall.yaml"))
        # every backbone's defaults (prefixed keys), since any model may compose any backbone
        for backbone_file in sorted((root / "backbone").glob("*.yaml")):
            self._update_internal_config_dict(str(backbone_file))
        self.parameters["Evaluation"] += [k for k in PLUGIN_EVALUATION_KEYS if k not in self.parameters["Evaluation"]]
        model_file = root / "model" / f"{model}.yaml"
        dataset_file = root / "dataset" / f"{dataset}.yaml"
        if model_file.is_file():
            self._update_internal_config_dict(str(model_file))
        if dataset_file.is_file():
            config_dict = self._update_internal_config_dict(str(dataset_file))
            self.parameters["Dataset"] += [k for k in config_dict if k not in self.parameters["Dataset"]]

    def _set_default_parameters(self):
        super()._set_default_parameters()
        if self.dataset == EMBEDDED_DATASET:
            root = self.external_config_dict.get("data_path", self.internal_config_dict["data_path"])
            self.final_config_dict["data_path"] = os.path.join(root, self.dataset)
        self.final_config_dict["data_path"] = os.path.abspath(self.final_config_dict["data_path"])
        refuse_secrets(self.final_config_dict)


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
