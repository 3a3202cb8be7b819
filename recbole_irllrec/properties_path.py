"""Where the plugin's RecBole property files live."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def properties_dir() -> Path:
    """``recbole_irllrec/properties`` in an installed wheel, else the source
    checkout's top-level ``properties/``."""
    for candidate in (_PACKAGE / "properties", _PACKAGE.parent / "properties"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"No properties/ folder next to {_PACKAGE}")
