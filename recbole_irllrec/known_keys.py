"""The config keys RecBole and the plugin know, to catch a misspelt one.

RecBole accepts any key: ``--kd_weigth=0.1`` is stored and never read, and the
run trains with the default. A key is known when a RecBole or plugin property
file defines it (any model's, any dataset's: a config file may serve several),
or when RecBole sets or reads it at run time without a file default.
"""
from __future__ import annotations

import difflib
import functools
from pathlib import Path

import recbole
import yaml

from recbole_irllrec.properties_path import properties_dir

_RECBOLE_PROPERTIES = Path(recbole.__file__).resolve().parent / "properties"
# RecBole's property files that hold config keys (url.yaml / kg_url.yaml map dataset names to URLs)
_RECBOLE_FILES = ("overall.yaml", "model/*.yaml", "dataset/sample.yaml", "dataset/ml-100k.yaml", "quick_start_config/*.yaml")
# plugin property files that hold config keys (hyper/ holds search spaces over them)
_PLUGIN_FILES = ("*.yaml", "backbone/*.yaml", "model/*.yaml", "model/*/*.yaml", "dataset/*.yaml")

# Keys RecBole 1.2.1 derives while building a Config, or reads with config[...] without a
# default in any property file (found in its source: configurator.py, quick_start.py,
# data/, trainer/, evaluator/, model/).
RECBOLE_RUNTIME_KEYS = frozenset({
    # the Config itself, its callers and distributed runs
    "model", "dataset", "config_files", "config_file", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type",
    "device", "single_spec", "local_rank", "nproc", "world_size", "offset", "ip", "port", "verbose",
    "valid_neg_sample_args", "test_neg_sample_args",
    # deprecated, still read (RecBole warns itself)
    "neg_sampling", "training_neg_sample_num",
    # data loading, transforms, metrics, trainers and models
    "encoding", "tail_ratio", "token_num_threshold", "xgb_early_stopping_rounds", "NEG_ITEMS", "POS_ITEMS",
    "CROP_ITEM_SEQ", "CROP_ITEM_SEQ_LEN", "INVERSE_ITEM_SEQ", "MASK_INDEX", "MASK_ITEM_SEQ", "REORDER_ITEM_SEQ",
    "feature_num", "has_residual", "cin", "contrast", "sim", "use_filter", "norm", "eta",
})


def _values_of(folder: Path, patterns: tuple[str, ...]) -> dict[str, list]:
    """Every value each key has in the files, across files."""
    found: dict[str, list] = {}
    for pattern in patterns:
        for path in folder.glob(pattern):
            with open(path, encoding="utf-8") as handle:
                values = yaml.safe_load(handle)
            if isinstance(values, dict):
                for key, value in values.items():
                    found.setdefault(str(key), []).append(value)
    return found


@functools.lru_cache(maxsize=4)
def _known(plugin_root: str) -> frozenset[str]:
    return frozenset(
        set(_values_of(_RECBOLE_PROPERTIES, _RECBOLE_FILES)) | set(_values_of(Path(plugin_root), _PLUGIN_FILES))
        | RECBOLE_RUNTIME_KEYS
    )


@functools.lru_cache(maxsize=4)
def _kinds(plugin_root: str) -> dict[str, str]:
    plugin = _values_of(Path(plugin_root), _PLUGIN_FILES)
    # files whose integers are integers; a RecBole model file writes `global_ratio: 1` for a float
    exact = set(plugin) | set(_values_of(_RECBOLE_PROPERTIES, ("overall.yaml",)))
    every = _values_of(_RECBOLE_PROPERTIES, _RECBOLE_FILES)
    for key, values in plugin.items():
        every.setdefault(key, []).extend(values)
    kinds = {}
    for key, values in every.items():
        types = {type(value) for value in values}
        if types == {bool}:
            kinds[key] = "bool"
        elif types == {int} and key in exact:
            kinds[key] = "int"
        elif types <= {int, float}:
            kinds[key] = "number"
    return kinds


def default_kinds() -> dict[str, str]:
    """For each key whose defaults, in every property file, are all booleans
    or all numbers: ``"bool"``, ``"int"`` (integers in the plugin's files or
    RecBole's overall.yaml) or ``"number"``. Keys with other defaults (strings,
    lists, None) are absent: their values are not checked by type."""
    return _kinds(str(properties_dir()))


def known_keys() -> frozenset[str]:
    """Every key a RecBole or plugin property file defines, plus RecBole's run-time keys."""
    return _known(str(properties_dir()))


def closest_key(key: str) -> str | None:
    """The known key ``key`` most likely misspells, if any is close."""
    matches = difflib.get_close_matches(key, known_keys(), n=1, cutoff=0.6)
    return matches[0] if matches else None


def closest_name(word: str, names) -> str | None:
    """The one of ``names`` that ``word`` most likely misspells, ignoring case
    (``lightgcn`` is LightGCN), if any is close."""
    by_lower = {name.lower(): name for name in names}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def unknown_key_message(key: str, layer: str) -> str:
    suggestion = closest_key(key)
    hint = f"did you mean '{suggestion}'?" if suggestion else "no known key is close"
    return (
        f"config key '{key}' (from {layer}) is defined by no model, backbone, dataset or RecBole default, "
        f"so nothing reads it; {hint}"
    )


def unknown_keys(layers: list[tuple[str, dict]]) -> list[str]:
    """A message for each key of the user's ``(layer label, values)`` that is not known."""
    known = known_keys()
    return [unknown_key_message(str(key), label) for label, values in layers for key in values if key not in known]
