"""Text towers: MLPs that map frozen text vectors into the CF embedding space."""
from __future__ import annotations

import copy

import torch
from torch import nn


class TextTower(nn.Sequential):
    """``in_dim -> hidden -> LeakyReLU -> out_dim``, shared by users and items
    (the reference's ``mlp`` / ``int_mlp``); ``hidden`` 0 is the reference's
    ``(in_dim + out_dim) // 2``."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 0) -> None:
        hidden = hidden or (in_dim + out_dim) // 2
        super().__init__(nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, out_dim))
        self.reset_weights()

    def reset_weights(self) -> None:
        # the reference re-initialises only the weights (biases keep torch's default)
        for layer in self:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Everything after the first layer, from its pre-activation."""
        return self[2](self[1](hidden))


def pca_projection(vectors: torch.Tensor, rows: torch.Tensor, dim: int) -> torch.Tensor:
    """``vectors`` centred and projected on the top ``dim`` principal axes of
    ``rows`` (padding rows left out of the fit, mapped to 0).

    ``torch.pca_lowrank`` is randomised: it runs under a fixed seed so that a
    checkpoint reloads with exactly the projection it was trained on.
    """
    if not 0 < dim < vectors.shape[1]:
        raise ValueError(f"text_proj_dim must be between 1 and {vectors.shape[1] - 1}, got {dim}")
    fit = vectors.index_select(0, rows)
    mean = fit.mean(dim=0, keepdim=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _, _, axes = torch.pca_lowrank(fit - mean, q=dim, center=False, niter=4)
    out = torch.zeros(vectors.shape[0], dim, dtype=vectors.dtype)
    return out.index_copy(0, rows, (fit - mean) @ axes)


class TextEncoder(nn.Module):
    """The frozen text vectors of every node (users, then items shifted by
    ``n_users``) and the tower that maps them into the CF space.

    ``proj_dim`` > 0 replaces the vectors by a fixed PCA projection computed
    once here (``text_proj_dim``): the tower then reads ``proj_dim`` instead of
    D (1536 / 3072) columns, which is most of the text terms' cost. The vectors
    are a buffer outside the state dict, so checkpoints stay small and the
    projection is recomputed from the dataset on reload.
    """

    def __init__(
        self, vectors: torch.Tensor, out_dim: int, real_rows: torch.Tensor, proj_dim: int = 0, hidden: int = 0
    ) -> None:
        super().__init__()
        if proj_dim:
            vectors = pca_projection(vectors, real_rows, proj_dim)
        self.register_buffer("vectors", vectors, persistent=False)
        self.tower = TextTower(vectors.shape[1], out_dim, hidden)

    def forward(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Tower output of ``rows`` (node ids), or of every node."""
        return self.tower(self.vectors if rows is None else self.vectors.index_select(0, rows))

    def with_hidden(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(first-layer pre-activation, output)`` of every node."""
        hidden = self.tower[0](self.vectors)
        return hidden, self.tower.head(hidden)


class EMATeacher(nn.Module):
    """A momentum copy of a tower, updated as ``t = m t + (1 - m) s`` and never
    by gradients (ITM's teacher).

    ``reinit=True`` reproduces the reference quirk: the copy's weights are
    re-initialised right after copying, so teacher and student start apart.

    :meth:`follow` serves a teacher that runs over the same rows every step
    (``align_scope: all``): its first layer is linear, so its pre-activation
    follows the same EMA, ``h'_k = m h'_{k-1} + (1 - m) h_k``, from the
    student's pre-activation ``h_k`` that the student's forward computed
    anyway. That replaces the teacher's widest matrix product (N x D x hidden)
    by an O(N x hidden) update, with the same result up to rounding.
    """

    def __init__(self, student: TextTower, momentum: float, reinit: bool = False) -> None:
        super().__init__()
        self.momentum = momentum
        self.tower = copy.deepcopy(student)
        if reinit:
            self.tower.reset_weights()
        for param in self.tower.parameters():
            param.requires_grad_(False)
        self._hidden: torch.Tensor | None = None  # first-layer pre-activation at the last step
        self._seen_version = -1  # version of the first layer's weight after our last update

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        weight = self.tower[0].weight
        if weight._version != self._seen_version:
            self._hidden = None  # weights changed elsewhere (a checkpoint load): rebuild the cache
        for t_param, s_param in zip(self.tower.parameters(), student.parameters()):
            t_param.mul_(self.momentum).add_(s_param.detach(), alpha=1.0 - self.momentum)
        self._seen_version = weight._version

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._hidden = None
        return self.tower(x)

    @torch.no_grad()
    def follow(self, x: torch.Tensor, student_hidden: torch.Tensor) -> torch.Tensor:
        """Teacher output for ``x`` (the same rows at every call), after
        :meth:`update`, given the student's first-layer pre-activation on ``x``."""
        cached = self._hidden
        if cached is None or cached.shape != student_hidden.shape or cached.device != student_hidden.device:
            self._hidden = self.tower[0](x)
        else:
            cached.mul_(self.momentum).add_(student_hidden.detach(), alpha=1.0 - self.momentum)
        return self.tower.head(self._hidden)
