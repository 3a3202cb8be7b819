"""Text towers: MLPs that map frozen text vectors into the CF embedding space."""
from __future__ import annotations

import copy

import torch
from torch import nn


class TextTower(nn.Sequential):
    """``in_dim -> (in_dim + out_dim) // 2 -> LeakyReLU -> out_dim``, shared by
    users and items (the reference's ``mlp`` / ``int_mlp``)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        hidden = (in_dim + out_dim) // 2
        super().__init__(nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, out_dim))
        self.reset_weights()

    def reset_weights(self) -> None:
        # the reference re-initialises only the weights (biases keep torch's default)
        for layer in self:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)


class EMATeacher(nn.Module):
    """A momentum copy of a tower, updated as ``t = m t + (1 - m) s`` and never
    by gradients (ITM's teacher).

    ``reinit=True`` reproduces the reference quirk: the copy's weights are
    re-initialised right after copying, so teacher and student start apart.
    """

    def __init__(self, student: TextTower, momentum: float, reinit: bool = False) -> None:
        super().__init__()
        self.momentum = momentum
        self.tower = copy.deepcopy(student)
        if reinit:
            self.tower.reset_weights()
        for param in self.tower.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        for t_param, s_param in zip(self.tower.parameters(), student.parameters()):
            t_param.mul_(self.momentum).add_(s_param.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)
