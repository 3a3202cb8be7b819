"""Search spaces: a YAML file of ``key: {kind: values}`` turned into Ray Tune domains.

::

    intent_num:
      choice: [32, 64, 128, 256]      # one of the values, sampled
    kd_weight:
      loguniform: [1.0e-4, 1.0e-1]    # low, high (the values themselves, not exponents)
    kd_temperature:
      uniform: [0.1, 1.0]             # low, high
    n_layers:
      grid: [2, 3]                    # every value, for every sample

Keys are RecBole config keys. ``grid`` multiplies the trial count: Tune runs
``num_samples`` trials for every grid combination.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ray import tune

KINDS = ("choice", "uniform", "loguniform", "grid")


class SpaceError(ValueError):
    """A search space file that cannot be used, with the file and key named."""


def load_space(path: str | Path) -> dict[str, Any]:
    """Ray Tune ``param_space`` from the space file at ``path``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpaceError(f"search space file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise SpaceError(f"search space file {path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict) or not raw:
        raise SpaceError(f"{path}: expected a mapping of config keys to {{kind: values}}, got {type(raw).__name__}")
    return {str(key): _domain(path, str(key), spec) for key, spec in raw.items()}


def _domain(path: Path, key: str, spec: Any):
    where = f"{path}, key {key!r}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SpaceError(f"{where}: expected exactly one of {', '.join(KINDS)} (e.g. `choice: [a, b]`), got {spec!r}")
    (kind, values), = spec.items()
    if kind not in KINDS:
        raise SpaceError(f"{where}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(values, list) or not values:
        raise SpaceError(f"{where}: {kind} needs a non-empty list, got {values!r}")
    if kind == "choice":
        return tune.choice(values)
    if kind == "grid":
        return tune.grid_search(values)
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if any(isinstance(v, str) for v in values) else ""
        raise SpaceError(f"{where}: {kind} needs [low, high] numbers, got {values!r}{hint}")
    low, high = float(values[0]), float(values[1])
    if not low < high:
        raise SpaceError(f"{where}: {kind} needs low < high, got {values!r}")
    if kind == "loguniform":
        if low <= 0:
            raise SpaceError(f"{where}: loguniform needs low > 0, got {values!r}")
        return tune.loguniform(low, high)
    return tune.uniform(low, high)
