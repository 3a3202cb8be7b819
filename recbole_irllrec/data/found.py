"""Whether a dataset's atomic files are there, checked before any work is done.

RecBole finds out only when it loads the dataset, after the config dump; a
name with no folder ends in a traceback. A dataset runs here when it is:

- the embedded default (``ml-100k``), which the run script builds on first use;
- a folder ``<data_path>/<name>`` holding ``<name>.inter``, or with
  ``benchmark_filename`` set, ``<name>.<part>.inter`` for each part;
- with no such folder, a name RecBole downloads (its ``url.yaml``) when no
  fixed split is asked for (RecBole's archives hold one ``.inter``). RecBole
  then downloads it into that folder, as ``run_recbole`` would.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import recbole
import yaml

from recbole_irllrec.config import EMBEDDED_DATASET


@functools.lru_cache(maxsize=1)
def recbole_downloads() -> frozenset[str]:
    """The dataset names RecBole downloads when their folder is missing."""
    path = Path(recbole.__file__).resolve().parent / "properties" / "dataset" / "url.yaml"
    with open(path, encoding="utf-8") as handle:
        return frozenset(yaml.safe_load(handle))


def interaction_files(name: str, benchmark_filename: list[str] | None) -> list[str]:
    """The interaction files RecBole reads for dataset ``name``."""
    if benchmark_filename is None:
        return [f"{name}.inter"]
    return [f"{name}.{part}.inter" for part in benchmark_filename]


def check_dataset_found(config) -> None:
    """Raise FileNotFoundError (one line, naming the folder and data_path) if
    ``config``'s dataset has no interaction files RecBole could read or download."""
    name, folder, parts = config["dataset"], config["data_path"], config["benchmark_filename"]
    if name == EMBEDDED_DATASET:
        return
    missing = [file for file in interaction_files(name, parts) if not os.path.isfile(os.path.join(folder, file))]
    if not missing:
        return
    downloadable = name in recbole_downloads()
    if downloadable and parts is None and not os.path.exists(folder):
        return
    if not downloadable:
        why = f"it is not the embedded {EMBEDDED_DATASET} nor a dataset RecBole downloads"
    elif parts is not None:
        why = f"RecBole's download of {name} has no fixed split (benchmark_filename: {parts})"
    else:
        why = f"RecBole downloads {name} only into a missing folder"
    raise FileNotFoundError(
        f"dataset '{name}': no atomic files in {folder} (data_path: {os.path.dirname(folder)}): "
        f"expected {', '.join(missing)}; {why}. Put the files there, or point --data_path at their parent folder"
    )
