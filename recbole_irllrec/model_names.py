"""The model names that run here, found without importing RecBole's model packages.

RecBole's ``get_model`` looks a name up by importing ``recbole.model.<group>``
package after package; ``exlib_recommender`` imports lightgbm and xgboost, so
any unknown name ended in ``No module named 'lightgbm'`` where those are not
installed. The names are read from each group's ``__init__.py`` instead, and
a group whose libraries are missing is left out.
"""
from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import recbole

from recbole_irllrec.known_keys import closest_name

# RecBole's model groups, as its get_model searches them, with the libraries each needs beyond RecBole's own
RECBOLE_GROUPS = {
    "general": ("general_recommender", ()),
    "sequential": ("sequential_recommender", ()),
    "context-aware": ("context_aware_recommender", ()),
    "knowledge-aware": ("knowledge_aware_recommender", ()),
    "external-library": ("exlib_recommender", ("lightgbm", "xgboost")),
}
_IMPORT = re.compile(r"^from recbole\.model\.\w+\.\w+ import (\w+)", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def recbole_models() -> dict[str, tuple[str, ...]]:
    """RecBole's model names by group (general, sequential, ...), for the groups whose libraries are installed."""
    root = Path(recbole.__file__).resolve().parent / "model"
    models = {}
    for group, (package, needs) in RECBOLE_GROUPS.items():
        if all(importlib.util.find_spec(library) is not None for library in needs):
            text = (root / package / "__init__.py").read_text(encoding="utf-8")
            models[group] = tuple(sorted(_IMPORT.findall(text), key=str.lower))
    return models


def unknown_model_message(name: str, plugin_models: tuple[str, ...]) -> str:
    """One line: ``name`` is unknown, the closest known name, and every model that runs here."""
    groups = {"plugin": plugin_models, **{f"RecBole {g}": names for g, names in recbole_models().items()}}
    every = [model for names in groups.values() for model in names]
    close = closest_name(name, every)
    hint = f"; did you mean {close}?" if close else "."
    listing = "; ".join(f"{group}: {', '.join(names)}" for group, names in groups.items())
    return f"unknown model '{name}'{hint} Models that run here: {listing}"


def is_recbole_model(name: str) -> bool:
    return any(name in names for names in recbole_models().values())
