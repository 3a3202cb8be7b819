"""Which property files a Config merges, in which order, and which layer set each key.

RecBole reads its layers into a few dicts and forgets where a value came from; a
setting silently overridden by a later file (a dataset file's ``n_layers`` over a
model's, say) is then invisible. :class:`ConfigSources` keeps, for every key, the
layers that set it in merge order; :func:`format_sources` prints them for
``run_recbole_irllrec.py --show_config``.
"""
from __future__ import annotations

import json
from pathlib import Path

import recbole

from recbole_irllrec.known_keys import closest_key, known_keys
from recbole_irllrec.properties_path import properties_dir

# what RecBole computes while it builds a Config, not read from any layer
DERIVED = "derived by RecBole"
CONFIG_DICT = "config_dict"
COMMAND_LINE = "command line"
# what a dataset without its own properties/dataset/<name>.yaml gets instead
DEFAULT_DATASET_FILE = "_default.yaml"

_RECBOLE_ROOT = Path(recbole.__file__).resolve().parent


def plugin_property_files(model: str, dataset: str) -> list[Path]:
    """The plugin's property files for ``model`` on ``dataset`` that exist, lowest first:
    overall.yaml, every backbone file, the model file, the dataset file (data and
    evaluation keys only; ``dataset/_default.yaml`` for a dataset without one),
    then the model's own values for that dataset."""
    root = properties_dir()
    dataset_file = root / "dataset" / f"{dataset}.yaml"
    files = [
        root / "overall.yaml",
        *sorted((root / "backbone").glob("*.yaml")),
        root / "model" / f"{model}.yaml",
        # a user's own dataset: the paper's protocol and dataset_prep's text layout, not RecBole's MRR@10
        dataset_file if dataset_file.is_file() else root / "dataset" / DEFAULT_DATASET_FILE,
        root / "model" / model / f"{dataset}.yaml",
    ]
    return [path for path in files if path.is_file()]


def file_label(path: str | Path) -> str:
    """A property file as a reader finds it: ``recbole/properties/...`` for RecBole's,
    ``properties/...`` for the plugin's, else the path as given (a user's file)."""
    resolved = Path(path).resolve()
    for root, prefix in ((properties_dir(), "properties"), (_RECBOLE_ROOT, "recbole")):
        try:
            return f"{prefix}/{resolved.relative_to(root).as_posix()}"
        except ValueError:
            continue
    return str(path)


class ConfigSources:
    """For each key, the layers that set it, lowest first (the last one wins).

    RecBole reads the user's layers (config files, config dict, command line)
    before its property files, so the two are kept apart and joined in merge
    order: every property file is below every user layer."""

    def __init__(self) -> None:
        self._internal: dict[str, list[str]] = {}
        self._external: dict[str, list[str]] = {}
        self._derived: dict[str, list[str]] = {}

    def set_by_property(self, label: str, keys) -> None:
        for key in keys:
            self._internal.setdefault(key, []).append(label)

    def set_by_user(self, label: str, keys) -> None:
        for key in keys:
            self._external.setdefault(key, []).append(label)

    def set_by_derivation(self, key: str, note: str) -> None:
        """``key`` rewritten after the merge (e.g. ``data_path`` joined with the dataset)."""
        self._derived.setdefault(key, []).append(note)

    def layers(self, key: str) -> list[str]:
        """Every layer that set ``key``, lowest first; empty if none did."""
        return self._internal.get(key, []) + self._external.get(key, []) + self._derived.get(key, [])

    def source_of(self, key: str) -> str | None:
        layers = self.layers(key)
        return layers[-1] if layers else None


def format_sources(config) -> str:
    """Every key of ``config`` with its value and the layer that set it (and, when
    it overrode others, which), one per line, sorted by key."""
    final = config.final_config_dict
    lines = [
        f"{config['model']} on {config['dataset']}: {len(final)} settings, each with the layer that set it "
        "(a later layer wins; 'over' lists the layers it overrode)"
    ]
    width = max(len(key) for key in final)
    known = known_keys()
    for key in sorted(final, key=str.lower):
        layers = config.sources.layers(key) or [DERIVED]
        source = layers[-1] + (f"  (over {', '.join(layers[:-1])})" if len(layers) > 1 else "")
        if key not in known:
            source += f"  UNKNOWN KEY: did you mean {closest_key(key)!r}?" if closest_key(key) else "  UNKNOWN KEY"
        lines.append(f"{key:<{width}} = {_shown(final[key])}    # {source}")
    return "\n".join(lines)


def _shown(value) -> str:
    from recbole_irllrec.checkpoint import plain

    value = plain(value)
    return value if isinstance(value, str) and value.strip() == value and value else json.dumps(value)
