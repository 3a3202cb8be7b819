"""The embedded default dataset, built on first use by the run script."""
from __future__ import annotations

import os

from dataset_prep.movielens import ML100K, prepare_ml100k


def prepare_embedded(config) -> None:
    """For ``dataset: ml-100k``, build (or reuse) the prepared copy at
    ``config['data_path']`` (``<data_path>/ml-100k``, see recbole_irllrec's
    Config); other datasets are left to the user."""
    if config["dataset"] == ML100K:
        prepare_ml100k(os.path.dirname(config["data_path"]))
