"""The embedded default dataset, built on first use by the run script."""
from __future__ import annotations

import os

from dataset_prep.movielens import ML100K, prepare_ml100k
from recbole_irllrec.data.cold import cold_settings


def prepare_embedded(config) -> None:
    """For ``dataset: ml-100k``, build (or reuse) the prepared copy at
    ``config['data_path']`` (``<data_path>/ml-100k``, see recbole_irllrec's
    Config); other datasets are left to the user."""
    if config["dataset"] == ML100K:
        # the folder Config chose (ml-100k, or a cold split's own folder) sits in <data_path>
        item_ratio, user_ratio, seed = cold_settings(config)
        prepare_ml100k(
            os.path.dirname(config["data_path"]), cold_item_ratio=item_ratio, cold_user_ratio=user_ratio, cold_seed=seed
        )
