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

A key the chosen model does nothing with (a plugin model's ``unread_keys``:
``intent_num`` with the DCCF or BIGCF backbone, whose prototype count is
``dccf_intent_num`` / ``bigcf_intent_num``; another backbone's ``sgl_*`` keys;
a text term's keys for a model without that term) is dropped from the space
with a printed note, rather than refused: every trial would be the same along
it (a grid of n values would run n identical trials), and a shared space file
such as ``properties/hyper/IRLLRec.yaml`` stays usable with every backbone.
A space with nothing left is refused.
"""
from __future__ import annotations

from collections import ChainMap
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


def offered_values(domain) -> list | None:
    """The values a ``choice`` or ``grid`` domain offers (None for ranges)."""
    if isinstance(domain, dict) and "grid_search" in domain:
        return list(domain["grid_search"])
    return list(domain.categories) if hasattr(domain, "categories") else None


def drop_unread_keys(path: str | Path, space: dict[str, Any], model_class: type, config) -> dict[str, Any]:
    """``space`` without the keys ``model_class`` does nothing with under
    ``config``, each dropped with a printed note naming the key, the model,
    the backbone and the reason. With ``backbone`` itself in the space, a key
    is dropped only if no offered backbone reads it. Raises :class:`SpaceError`
    when no key is left. Models without ``unread_keys`` (RecBole's) keep every key."""
    unread_keys = getattr(model_class, "unread_keys", None)
    if unread_keys is None:
        return space
    backbones = offered_values(space["backbone"]) if "backbone" in space else None
    if backbones is None:
        backbones = [config["backbone"]]
    # every offered backbone's view of the config; a key is unread if unread under all of them
    views = [unread_keys(ChainMap({"backbone": b}, config.final_config_dict), list(space)) for b in backbones]
    dropped = {key: reason for key, reason in views[0].items() if all(key in view for view in views[1:])}
    for key, reason in dropped.items():
        under = backbones[0] if len(backbones) == 1 else f"any of {backbones}"
        print(f"note: {path}: not searching {key!r}: {model_class.__name__} with backbone {under} "
              f"does nothing with it ({reason})")
    kept = {key: domain for key, domain in space.items() if key not in dropped}
    if not kept:
        raise SpaceError(f"{path}: none of its keys {sorted(space)} changes {model_class.__name__} "
                         f"with backbone {backbones[0] if len(backbones) == 1 else backbones}; nothing to search")
    return kept
