"""Model and trainer lookup: the plugin's first, then RecBole's."""
from __future__ import annotations

import functools
import importlib

from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_irllrec.trainer import SafeCheckpointMixin


def get_model(model_name: str) -> type:
    """The model class named ``model_name``: ``recbole_irllrec.model.<name>``
    first, then RecBole's own models."""
    module_path = f"recbole_irllrec.model.{model_name.lower()}"
    if importlib.util.find_spec(module_path) is not None:
        return getattr(importlib.import_module(module_path), model_name)
    try:
        return recbole_get_model(model_name)
    except ValueError:
        raise ValueError(f"`model_name` [{model_name}] is neither a recbole_irllrec nor a RecBole model.") from None


@functools.lru_cache(maxsize=None)
def get_trainer(model_type, model_name: str) -> type:
    """RecBole's trainer for the model (or the plugin's ``<Name>Trainer``),
    with checkpoints saved and loaded safely (see :mod:`recbole_irllrec.trainer`)."""
    trainer_module = importlib.import_module("recbole_irllrec.trainer")
    base = getattr(trainer_module, f"{model_name}Trainer", None) or recbole_get_trainer(model_type, model_name)
    if issubclass(base, SafeCheckpointMixin):
        return base
    return type(f"Safe{base.__name__}", (SafeCheckpointMixin, base), {})
