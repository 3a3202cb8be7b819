"""RecBole's Config, aware of the plugin's models and property files."""
from __future__ import annotations

import os
import re

from recbole.config import Config as RecBoleConfig

from recbole_irllrec.properties_path import properties_dir
from recbole_irllrec.utils import get_model

EMBEDDED_DATASET = "ml-100k"
# what runs when neither an argument nor a config file names a model or dataset
DEFAULT_MODEL = "IRLLRec"
# keys of properties/overall.yaml that RecBole's log should list under "Evaluation"
PLUGIN_EVALUATION_KEYS = ("test_mask_valid_items",)
# RecBole logs every config key and pickles the config into checkpoints: no secret may live there.
SECRET_KEY = re.compile(r"api_?key|secret|password|passwd|token$", re.IGNORECASE)


class Config(RecBoleConfig):
    """Looks models up in the plugin first and merges ``properties/overall.yaml``,
    ``properties/model/<model>.yaml`` and ``properties/dataset/<dataset>.yaml``
    (in this order) over RecBole's own defaults (RecBole ignores a plugin's property files).

    Model and dataset come from the arguments, else the config files or dict,
    else IRLLRec on the embedded ml-100k.

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
        return final_model, final_model_class, dataset

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


def refuse_secrets(config: dict) -> None:
    """Raise if a key looks like a credential: it would end up in logs and checkpoints."""
    found = sorted(k for k in config if SECRET_KEY.search(str(k)))
    if found:
        raise ValueError(
            f"config key(s) {found} look like credentials; RecBole writes the whole config to its log and "
            "checkpoints, so keep secrets in environment variables (e.g. OPENAI_API_KEY) instead"
        )
