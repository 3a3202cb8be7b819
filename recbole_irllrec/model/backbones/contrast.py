"""The view contrast of SGL and SimGCL, in the two forms their ``<prefix>form`` key chooses.

``batch``: each view's rows of the batch's *distinct* users and distinct
positive items are contrasted with the other view's rows of the same nodes
(in-batch candidates, as SimGCL's paper and RecBole-GNN).

``reference``: as the IRLLRec authors' ``sgl_int.py`` / ``simgcl_int.py``:
one anchor per batch row, with *every* real user (for user anchors) or every
real item (for positive, and with SGL negative, item anchors) of view 2 as
candidates. Both forms sum over anchors and divide by the batch size.
"""
from __future__ import annotations

import torch
from torch import nn

from recbole_irllrec.model.losses import full_view_info_nce, two_view_info_nce

FORMS = ("batch", "reference")


def check_form(config, key: str) -> str:
    """``config[key]``, which must be one of :data:`FORMS`."""
    form = config[key]
    if form not in FORMS:
        raise ValueError(f"{key} must be one of {list(FORMS)}, got {form!r}")
    return form


class ViewContrast(nn.Module):
    """InfoNCE between two views of the graph (unweighted); ``negatives``:
    the reference form also contrasts the batch's negative items (SGL's does)."""

    def __init__(self, form: str, temperature: float, n_users: int, n_items: int, negatives: bool) -> None:
        super().__init__()
        self.form, self.temperature = form, temperature
        self.n_users, self.negatives = n_users, negatives
        # RecBole's padding ids (user 0, item 0) are no node of the graph: never candidates
        self.register_buffer("real_users", torch.arange(1, n_users), persistent=False)
        self.register_buffer("real_items", torch.arange(n_users + 1, n_users + n_items), persistent=False)

    def forward(
        self, view1: torch.Tensor, view2: torch.Tensor, user: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor
    ) -> torch.Tensor:
        """``user`` / ``pos`` / ``neg``: the batch's ids (items not shifted)."""
        if self.form == "batch":
            return two_view_info_nce(view1, view2, user, pos, self.n_users, self.temperature)
        groups = [(user, self.real_users), (pos + self.n_users, self.real_items)]
        if self.negatives:
            groups.append((neg + self.n_users, self.real_items))
        return full_view_info_nce(view1, view2, groups, self.temperature, user.shape[0])
