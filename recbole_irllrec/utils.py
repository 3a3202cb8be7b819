"""Model and trainer lookup: the plugin's first, then RecBole's."""
from __future__ import annotations

import functools
import importlib

from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_irllrec.model_names import is_recbole_model, unknown_model_message
from recbole_irllrec.trainer import SafeCheckpointMixin, ValidResultMixin


# the plugin's models and their modules (several models share one module)
PLUGIN_MODELS = {
    "IRLLRec": "recbole_irllrec.model.irllrec",
    "RLMRecCon": "recbole_irllrec.model.rlmrec",
    "RLMRecGen": "recbole_irllrec.model.rlmrec",
    "GraphCF": "recbole_irllrec.model.plain",
    "DCCF": "recbole_irllrec.model.plain",
    "BIGCF": "recbole_irllrec.model.plain",
}


def get_model(model_name: str) -> type:
    """The model class named ``model_name``: the plugin's (:data:`PLUGIN_MODELS`)
    first, then RecBole's own models. An unknown name raises ValueError naming
    the closest model and every model that runs here."""
    if model_name in PLUGIN_MODELS:
        return getattr(importlib.import_module(PLUGIN_MODELS[model_name]), model_name)
    if not is_recbole_model(model_name):
        # before RecBole's lookup, which imports every model package (and fails on a missing lightgbm)
        raise ValueError(unknown_model_message(model_name, tuple(PLUGIN_MODELS)))
    return recbole_get_model(model_name)


def text_columns_needed(config) -> tuple[str, ...]:
    """The text columns (of data.text_features.TEXT_COLUMNS) the configured model reads."""
    model_class = get_model(config["model"])
    columns = getattr(model_class, "text_columns", None)
    return tuple(columns(config)) if columns is not None else ()


@functools.lru_cache(maxsize=None)
def get_trainer(model_type, model_name: str) -> type:
    """RecBole's trainer for the model (or the plugin's ``<Name>Trainer``),
    with checkpoints saved and loaded safely and the last validation result
    kept (see :mod:`recbole_irllrec.trainer`)."""
    trainer_module = importlib.import_module("recbole_irllrec.trainer")
    base = getattr(trainer_module, f"{model_name}Trainer", None) or recbole_get_trainer(model_type, model_name)
    mixins = tuple(m for m in (SafeCheckpointMixin, ValidResultMixin) if not issubclass(base, m))
    return type(f"Safe{base.__name__}", (*mixins, base), {}) if mixins else base
