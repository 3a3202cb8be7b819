"""Checkpoints that load with ``torch.load(weights_only=True)``.

RecBole pickles its whole ``Config`` into each checkpoint, which torch's safe
loader refuses. Here the config is stored as plain data (the user's settings
plus the final config for the record), so a checkpoint holds only tensors,
numbers, strings, lists and dicts, and its top-level keys are checked against
an allow-list.

RecBole's own ``recbole.quick_start.load_data_and_model`` expects that pickled
``Config`` and stops at ``KeyError: 'seed'`` (the seed is in the record's
``final`` dict); plain data cannot make it fail more clearly, so the record
names the loader that reads it (``load_with``).
"""
from __future__ import annotations

import enum
from pathlib import Path

import torch

CHECKPOINT_KEYS = frozenset(
    {"config", "epoch", "cur_step", "best_valid_score", "state_dict", "other_parameter", "optimizer"}
)
CONFIG_KEYS = frozenset({"model", "dataset", "external", "final", "load_with"})
# the loader for these checkpoints, named in each one for whoever opens it by hand
LOADER = "recbole_irllrec.quick_start.load_data_and_model"


class CheckpointError(ValueError):
    pass


PLAIN_SCALARS = (bool, int, float, str, type(None))


def check_plain(value, where: str, source) -> None:
    """Raise unless ``value`` is numbers, strings, bools, None, and lists and
    dicts (string keys) of those: all a recorded setting may be."""
    if isinstance(value, PLAIN_SCALARS):
        return
    if isinstance(value, list):
        for k, item in enumerate(value):
            check_plain(item, f"{where}[{k}]", source)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{source}: recorded setting '{where}' has a non-string key")
            check_plain(item, f"{where}.{key}", source)
        return
    raise CheckpointError(
        f"{source}: recorded setting '{where}' is a {type(value).__name__}, not plain data; refusing the checkpoint"
    )


def check_numbers(settings: dict, defaults: dict, source) -> None:
    """A recorded setting whose default is a number must be one: a string in
    its place (read, never run) would fail later, deep in the optimizer."""
    for key, value in settings.items():
        default = defaults.get(key)
        expects_number = isinstance(default, (int, float)) and not isinstance(default, bool)
        if expects_number and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise CheckpointError(
                f"{source}: recorded setting '{key}' is a {type(value).__name__} where a number belongs; "
                "refusing the checkpoint"
            )


def recorded_settings(checkpoint: dict, source) -> tuple[str, str, dict]:
    """``(model, dataset, settings)`` the checkpoint was trained with, checked
    to be plain data; the settings are to be taken as they are (never
    evaluated, see :class:`recbole_irllrec.config.RecordedValues`)."""
    record = checkpoint["config"]
    model, dataset, external = record.get("model"), record.get("dataset"), record.get("external")
    for key, value in (("model", model), ("dataset", dataset)):
        if not isinstance(value, str):
            raise CheckpointError(f"{source}: recorded '{key}' is not a name")
    if not isinstance(external, dict):
        raise CheckpointError(f"{source}: recorded 'external' settings are not a dict")
    for key, value in external.items():
        check_plain(value, str(key), source)
    settings = {k: v for k, v in external.items() if k not in ("model", "dataset")}
    return model, dataset, settings


# what RecBole computes while it builds a Config: rebuilt on reload, never restored
DERIVED_KEYS = frozenset({
    "model", "dataset", "data_path", "config_files", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type",
    "valid_metric_bigger", "device", "single_spec", "local_rank", "valid_neg_sample_args", "test_neg_sample_args",
})
# where and how a run happens, not what it computes: today's values, never restored nor reported
ENVIRONMENT_KEYS = frozenset({
    "gpu_id", "use_gpu", "worker", "threads", "state", "show_progress", "verbose", "checkpoint_dir", "log_wandb",
    "wandb_project", "nproc", "world_size", "offset", "ip", "port",
})
# RecBole rewrites a missing train_neg_sample_args to this; given back, it would be refused
_NO_NEGATIVES = {"distribution": "none", "sample_num": "none", "alpha": "none", "dynamic": False, "candidate_num": 0}


def recorded_property_values(checkpoint: dict, source) -> dict:
    """The values the checkpoint's run took from property files: its recorded
    final config less the user's settings, what RecBole derives and the
    environment; checked to be plain data. Empty if the checkpoint recorded no
    final config."""
    record = checkpoint["config"]
    final, external = record.get("final"), record.get("external") or {}
    if final is None:
        return {}
    if not isinstance(final, dict):
        raise CheckpointError(f"{source}: recorded 'final' config is not a dict")
    values = {}
    for key, value in final.items():
        if key in DERIVED_KEYS or key in ENVIRONMENT_KEYS or key in external:
            continue
        check_plain(value, str(key), source)
        values[key] = value
    return values


def as_property_values(recorded: dict) -> dict:
    """``recorded`` as RecBole reads property values (its final forms read back)."""
    values = dict(recorded)
    if values.get("train_neg_sample_args") == _NO_NEGATIVES:
        values["train_neg_sample_args"] = None
    return values


_MISSING = object()


def config_drift(recorded: dict, today: dict, external: dict) -> list[tuple[str, object, object]]:
    """``(key, recorded value, today's value)`` for every property-file key where the
    checkpoint's recorded value differs from what today's property files give
    (``today``: a plain final config built from the same user settings); a side
    that lacks the key shows as ``'(not set)'``."""
    skipped = DERIVED_KEYS | ENVIRONMENT_KEYS | set(external)
    drift = []
    for key in sorted((set(recorded) | set(today)) - skipped):
        then, now = recorded.get(key, _MISSING), today.get(key, _MISSING)
        if then != now or type(then) is not type(now):
            drift.append((key, "(not set)" if then is _MISSING else then, "(not set)" if now is _MISSING else now))
    return drift


def plain(value):
    """``value`` as plain data: enums by name, anything unknown as its str."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def config_record(config) -> dict:
    """What a checkpoint keeps of a RecBole ``Config``."""
    return {
        "model": config["model"],
        "dataset": config["dataset"],
        "external": plain(config.external_config_dict),
        "final": plain(config.final_config_dict),
        "load_with": LOADER,
    }


def require_file(path: str | Path) -> None:
    """Raise ``FileNotFoundError`` saying so unless ``path`` is a file: a typo is
    no "not a checkpoint"."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}" if not Path(path).exists() else f"not a file: {path}")


def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """Load a checkpoint written by this plugin, safely."""
    require_file(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError or RuntimeError
        raise CheckpointError(
            f"{path}: not a recbole_irllrec checkpoint that loads with weights_only=True "
            f"(checkpoints written by RecBole itself pickle their Config): {exc}"
        ) from exc
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(checkpoint).__name__}")
    unexpected = set(checkpoint) - CHECKPOINT_KEYS
    if unexpected:
        raise CheckpointError(f"{path}: unexpected checkpoint keys {sorted(unexpected)}")
    config = checkpoint.get("config")
    if not isinstance(config, dict) or set(config) - CONFIG_KEYS:
        raise CheckpointError(f"{path}: malformed 'config' record")
    return checkpoint
