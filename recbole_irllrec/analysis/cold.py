"""Cold-start evaluation: RecBole's full ranking over warm + cold items, and its
cold slices, from RecBole's own evaluator.

- ``all``: the ordinary full-sort evaluation (every item a candidate).
- ``cold users`` / ``warm users``: the rows of users with / without training
  interactions in that same evaluation, as the sparsity groups
  (:mod:`recbole_irllrec.analysis.sparsity`) evaluate their users.
- ``cold items`` / ``warm items``: the evaluation rerun on a loader whose
  positives are the users' cold (warm) items only and whose other items are
  masked, i.e. ranking among cold (warm) items only (the "cold" and "warm"
  settings of cold-start item papers); users without such a positive are left out.

Cold means no training interaction (:func:`recbole_irllrec.data.cold.cold_ids`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
from recbole.data.interaction import Interaction

from recbole_irllrec.analysis.sparsity import evaluate_per_user
from recbole_irllrec.data.cold import cold_ids


class ItemSliceLoader(FullSortEvalDataLoader):
    """``source`` (a full-sort loader) restricted to ``items``: each user's positives
    among them, every other item masked like a history item, users without a
    positive among them left out. Batches are RecBole's own collate."""

    def __init__(self, source: FullSortEvalDataLoader, items: np.ndarray) -> None:
        dataset = source._dataset
        self.logger, self.uid_field, self.iid_field = source.logger, source.uid_field, source.iid_field
        self.is_sequential = False
        keep = torch.zeros(dataset.item_num, dtype=torch.bool)
        keep[torch.as_tensor(np.asarray(items), dtype=torch.int64)] = True
        others = torch.nonzero(~keep).flatten()
        n_users = len(source.uid2positive_item)
        self.uid2items_num = np.zeros(n_users, dtype=np.int64)
        self.uid2positive_item = np.array([None] * n_users)
        self.uid2history_item = np.array([None] * n_users)
        users = []
        for uid in source.uid_list.tolist():
            positive = source.uid2positive_item[uid]
            positive = positive[keep[positive]]
            if positive.numel() == 0:
                continue
            users.append(uid)
            self.uid2positive_item[uid] = positive
            self.uid2items_num[uid] = positive.numel()
            self.uid2history_item[uid] = torch.unique(torch.cat([source.uid2history_item[uid], others]))
        self.uid_list = torch.tensor(users, dtype=torch.int64)
        self.user_df = dataset.join(Interaction({self.uid_field: self.uid_list}))
        self.sample_size = len(self.user_df)
        AbstractDataLoader.__init__(self, source.config, dataset, source._sampler, shuffle=False)


@dataclass
class ColdNodes:
    """Internal ids of users and items with and without training interactions."""

    cold_users: np.ndarray
    cold_items: np.ndarray
    warm_items: np.ndarray

    @classmethod
    def of(cls, train_data) -> ColdNodes:
        dataset = train_data._dataset
        cold_items = cold_ids(dataset, dataset.item_num, dataset.iid_field)
        warm_items = np.setdiff1d(np.arange(1, dataset.item_num), cold_items)
        return cls(cold_ids(dataset, dataset.user_num, dataset.uid_field), cold_items, warm_items)


def cold_slices(config, model, train_data, eval_data, nodes: ColdNodes | None = None) -> dict[str, dict]:
    """RecBole's metrics of ``model`` on ``eval_data`` (one evaluation pass per
    item slice): ``all`` and, where the split has them, ``cold users``,
    ``warm users``, ``cold items``, ``warm items``; each with ``users``, the
    number of evaluated users."""
    nodes = nodes or ColdNodes.of(train_data)
    full = evaluate_per_user(config, model, train_data, eval_data)
    evaluated = np.unique(full.users)
    slices = {"all": {"users": len(evaluated), **full.overall}}
    cold_users = np.intersect1d(evaluated, nodes.cold_users)
    if len(cold_users):
        warm_users = np.setdiff1d(evaluated, cold_users)
        slices["cold users"] = {"users": len(cold_users), **full.evaluate(cold_users)}
        slices["warm users"] = {"users": len(warm_users), **full.evaluate(warm_users)}
    if len(nodes.cold_items):
        for name, items in (("cold items", nodes.cold_items), ("warm items", nodes.warm_items)):
            loader = ItemSliceLoader(eval_data, items)
            if loader.sample_size:
                result = evaluate_per_user(config, model, train_data, loader).overall
                slices[name] = {"users": loader.sample_size, **result}
    return slices
