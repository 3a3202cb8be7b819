"""Checkpoints that load with ``torch.load(weights_only=True)``.

RecBole pickles its whole ``Config`` into each checkpoint, which torch's safe
loader refuses. Here the config is stored as plain data (the user's settings
plus the final config for the record), so a checkpoint holds only tensors,
numbers, strings, lists and dicts, and its top-level keys are checked against
an allow-list.
"""
from __future__ import annotations

import enum
from pathlib import Path

import torch

CHECKPOINT_KEYS = frozenset(
    {"config", "epoch", "cur_step", "best_valid_score", "state_dict", "other_parameter", "optimizer"}
)
CONFIG_KEYS = frozenset({"model", "dataset", "external", "final"})


class CheckpointError(ValueError):
    pass


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
    }


def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """Load a checkpoint written by this plugin, safely."""
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
