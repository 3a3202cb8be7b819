"""Which items the full-sort test ranking masks (config key ``test_mask_valid_items``).

RecBole's test :class:`~recbole.data.dataloader.FullSortEvalDataLoader` gives
every user a history of training *and* validation items, and the trainer sets
their scores to -inf. The RLMRec/IRLLRec reference code masks only training
items at test time, so a validation item stays a candidate (it can only push
the test positives down). ``test_mask_valid_items: False`` reproduces that.
"""
from __future__ import annotations

from logging import getLogger

import numpy as np
import torch
from recbole.data.dataloader import FullSortEvalDataLoader


def apply_test_masking(config, train_data, test_data) -> None:
    """With ``test_mask_valid_items`` False, replace each test user's history
    in ``test_data`` by their training items (minus their test positives, as
    RecBole does); with True (the default) leave RecBole's history alone."""
    mask_valid = config["test_mask_valid_items"]
    if mask_valid is None or mask_valid:
        return
    if not isinstance(test_data, FullSortEvalDataLoader) or test_data.is_sequential:
        getLogger().warning(
            "test_mask_valid_items: False applies to full-sort evaluation of general models only; "
            "the test loader %s is left unchanged.", type(test_data).__name__
        )
        return
    train = train_data._dataset
    users = train.inter_feat[train.uid_field].numpy()
    items = train.inter_feat[train.iid_field].numpy()
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.searchsorted(users, test_data.uid_list.numpy(), side="left")
    ends = np.searchsorted(users, test_data.uid_list.numpy(), side="right")
    for uid, start, end in zip(test_data.uid_list.tolist(), starts, ends):
        trained = np.unique(items[start:end])
        positive = test_data.uid2positive_item[uid].numpy()
        history = trained[~np.isin(trained, positive)]
        test_data.uid2history_item[uid] = torch.as_tensor(history, dtype=torch.int64)
