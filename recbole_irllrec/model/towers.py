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


def pca_axes(fit: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean [1, D], axes [D, dim])``: the top ``dim`` principal axes of the rows of ``fit``.

    ``torch.pca_lowrank`` is randomised: it runs under a fixed seed so that a
    checkpoint reloads with exactly the projection it was trained on.
    """
    if not 0 < dim < fit.shape[1]:
        raise ValueError(f"text_proj_dim must be between 1 and {fit.shape[1] - 1}, got {dim}")
    mean = fit.mean(dim=0, keepdim=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _, _, axes = torch.pca_lowrank(fit - mean, q=dim, center=False, niter=4)
    return mean, axes


PCA_FIT_ROWS = 20_000  # rows the projection is fitted on: enough for k << D axes, O(1) in the graph size


def _fit_rows(user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
    """Real rows (padding row 0 of each side left out) to fit the projection on:
    all of them, or a fixed sample of :data:`PCA_FIT_ROWS`."""
    n_users, n_real = user_vectors.shape[0], user_vectors.shape[0] + item_vectors.shape[0] - 2
    if n_real <= PCA_FIT_ROWS:
        return torch.cat([user_vectors[1:], item_vectors[1:]])
    picked = torch.randperm(n_real, generator=torch.Generator().manual_seed(0))[:PCA_FIT_ROWS].sort().values + 1
    users = picked[picked < n_users]
    return torch.cat([user_vectors[users], item_vectors[picked[picked >= n_users] - n_users + 1]])


class TextEncoder(nn.Module):
    """The frozen text vectors of users and items (row 0 of each is RecBole's
    padding) and the tower that maps them into the CF space. Rows are node ids:
    users, then items shifted by ``n_users``.

    The two matrices stay separate buffers, shared with the dataset's (no
    concatenated copy of 1536 / 3072-d vectors), outside the state dict, so
    checkpoints stay small and reloads take them from the dataset again.
    ``proj_dim`` > 0 replaces vectors wider than that by a fixed PCA
    projection to ``proj_dim`` columns, fitted once here on the real rows (at
    most :data:`PCA_FIT_ROWS` of them; ``text_proj_dim``): the tower then reads ``proj_dim`` instead of D
    columns, which is most of the text terms' cost on wide vectors.
    """

    def __init__(
        self, user_vectors: torch.Tensor, item_vectors: torch.Tensor, out_dim: int, proj_dim: int = 0, hidden: int = 0
    ) -> None:
        super().__init__()
        if proj_dim and user_vectors.shape[1] > proj_dim:  # narrower vectors are used as they are
            mean, axes = pca_axes(_fit_rows(user_vectors, item_vectors), proj_dim)
            user_vectors, item_vectors = (((v - mean) @ axes).index_fill_(0, torch.tensor([0]), 0.0)
                                          for v in (user_vectors, item_vectors))
        self.n_users = user_vectors.shape[0]
        self.register_buffer("user_vectors", user_vectors, persistent=False)
        self.register_buffer("item_vectors", item_vectors, persistent=False)
        self.tower = TextTower(user_vectors.shape[1], out_dim, hidden)

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """The text vectors of ``rows`` (sorted node ids)."""
        split = int(torch.searchsorted(rows, torch.tensor(self.n_users, device=rows.device)))
        users = self.user_vectors.index_select(0, rows[:split])
        return torch.cat([users, self.item_vectors.index_select(0, rows[split:] - self.n_users)])

    def first_layer(self, layer: nn.Linear | None = None) -> torch.Tensor:
        """``layer`` (default the tower's first) applied to every node's vector."""
        layer = self.tower[0] if layer is None else layer
        return torch.cat([layer(self.user_vectors), layer(self.item_vectors)])

    def forward(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Tower output of ``rows`` (sorted node ids), or of every node."""
        return self.tower.head(self.first_layer()) if rows is None else self.tower(self.inputs(rows))

    def with_hidden(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(first-layer pre-activation, output)`` of every node."""
        hidden = self.first_layer()
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
    def follow(self, text: TextEncoder, student_hidden: torch.Tensor) -> torch.Tensor:
        """Teacher output for every node of ``text``, after :meth:`update`,
        given the student's first-layer pre-activation of every node."""
        cached = self._hidden
        if cached is None or cached.shape != student_hidden.shape or cached.device != student_hidden.device:
            self._hidden = text.first_layer(self.tower[0])
        else:
            cached.mul_(self.momentum).add_(student_hidden.detach(), alpha=1.0 - self.momentum)
        return self.tower.head(self._hidden)
