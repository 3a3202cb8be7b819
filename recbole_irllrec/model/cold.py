"""Scoring nodes without training edges from their text (cold start).

A user or item with no training interaction has no collaborative signal: its
final embedding is its untouched ego embedding. The text towers map every
node's text vector into the CF space, so such a node can be scored from its
text instead (``cold_scoring``):

- ``cf``: its own CF embedding, as a model without text (no cold handling);
- ``intent`` / ``profile``: that tower's output, rescaled to the mean norm of
  the warm nodes' final embeddings of its side (the towers are trained with
  cosine InfoNCE, so only their direction is aligned with the CF space; the
  rescaling puts cold nodes at a typical magnitude against warm ones);
- ``combined``: a linear map from both towers' outputs (and a bias) to the
  final embedding, fitted by ridge regression on the warm nodes of the side,
  at scoring time (closed form, no extra training).

Only the rows of cold nodes change: warm users and items score exactly as with
``cf``. The module holds no parameters and no state-dict entries (the towers
belong to the alignment terms), so checkpoints are unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recbole_irllrec.model.alignment import check_choice
from recbole_irllrec.model.towers import TextEncoder

COLD_CHOICES = ("cf", "intent", "profile", "combined")
# ridge of the combined map, relative to the mean diagonal of X^T X: keeps the solve
# well-posed when tower outputs are nearly collinear, small enough not to shrink the fit
RIDGE = 1e-3


class ColdScoring(nn.Module):
    """Replaces the final embeddings of nodes without training edges by text
    embeddings (``cold_scoring``); ``towers`` maps "intent" / "profile" to the
    model's text encoders (absent or None when the model has no such tower)."""

    KEYS = ("cold_scoring",)

    def __init__(self, config, edge_index: torch.Tensor, n_users: int, n_nodes: int,
                 towers: dict[str, TextEncoder | None]) -> None:
        super().__init__()
        self.n_users = n_users
        self.model_name = config["model"]
        degree = torch.bincount(edge_index[0], minlength=n_nodes)
        real = torch.ones(n_nodes, dtype=torch.bool)
        real[0] = real[n_users] = False  # RecBole's padding user and item
        self.register_buffer("cold_nodes", torch.nonzero(real & (degree == 0)).flatten(), persistent=False)
        self.register_buffer("warm_nodes", torch.nonzero(real & (degree > 0)).flatten(), persistent=False)
        # a plain dict, not submodules: the alignment terms own the towers and their state-dict entries
        self._towers = {kind: tower for kind, tower in towers.items() if tower is not None}
        self.choice = "cf"
        self.choose(check_choice(config, "cold_scoring", COLD_CHOICES))

    def choose(self, choice: str) -> None:
        """Score cold nodes by ``choice`` from now on (a benchmark compares them on one trained model)."""
        if choice not in COLD_CHOICES:
            raise ValueError(f"cold_scoring must be one of {list(COLD_CHOICES)}, got {choice!r}")
        if choice in ("intent", "profile") and choice not in self._towers:
            raise ValueError(
                f"cold_scoring: {choice} needs the {choice} tower, which this {self.model_name} does not build "
                f"(towers: {sorted(self._towers) or 'none'}; the profile tower needs kd_weight > 0, the intent "
                "tower an intent weight > 0)"
            )
        if choice == "combined" and not self._towers:
            raise ValueError(f"cold_scoring: combined needs a text tower; this {self.model_name} has none")
        self.choice = choice

    def available(self) -> tuple[str, ...]:
        """The choices this model can use."""
        return ("cf", *[kind for kind in ("intent", "profile") if kind in self._towers], "combined")

    @torch.no_grad()
    def forward(self, final: torch.Tensor) -> torch.Tensor:
        """``final`` (every node's final embedding) with the cold nodes' rows replaced."""
        if self.choice == "cf" or self.cold_nodes.numel() == 0:
            return final
        out = final.clone()
        for side in ("user", "item"):
            cold = self._side(self.cold_nodes, side)
            if cold.numel():
                out[cold] = self._embed(final, {kind: tower(cold) for kind, tower in self._towers.items()}, side)
        return out

    @torch.no_grad()
    def embed_new(self, final: torch.Tensor, vectors: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        """CF-space embeddings of new ``side`` ("user" / "item") nodes from their text
        ``vectors`` (kind -> ``[n, D]``, the same embedder and width as the dataset's),
        by the current choice (``cf`` has nothing to offer a new node: refused)."""
        if self.choice == "cf":
            raise ValueError("cold_scoring: cf cannot score a node from its text; choose intent, profile or combined")
        outputs = {}
        for kind, tower in self._towers.items():
            if tower.user_vectors.shape[1] != vectors[kind].shape[1]:
                raise ValueError(
                    f"{kind} vectors of width {vectors[kind].shape[1]}: the model's {kind} tower reads "
                    f"{tower.user_vectors.shape[1]} (text_proj_dim > 0 or another embedder than the dataset's)"
                )
            outputs[kind] = tower.tower(vectors[kind].to(tower.user_vectors.dtype))
        return self._embed(final, outputs, side)

    def _side(self, nodes: torch.Tensor, side: str) -> torch.Tensor:
        return nodes[nodes < self.n_users] if side == "user" else nodes[nodes >= self.n_users]

    def _embed(self, final: torch.Tensor, outputs: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        """Embeddings of nodes whose tower outputs are ``outputs``, fitted against the warm nodes of ``side``."""
        warm = self._side(self.warm_nodes, side)
        if self.choice != "combined":
            scale = final.index_select(0, warm).norm(dim=1).mean()
            return F.normalize(outputs[self.choice], dim=1) * scale
        x = self._features({kind: tower(warm) for kind, tower in self._towers.items()})
        gram = x.T @ x
        ridge = RIDGE * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        weights = torch.linalg.solve(gram + ridge, x.T @ final.index_select(0, warm).double())
        return (self._features(outputs) @ weights).to(final.dtype)

    @staticmethod
    def _features(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Every tower's output (by kind name) and a constant column, in float64 for the solve."""
        parts = [outputs[kind].double() for kind in sorted(outputs)]
        ones = torch.ones(parts[0].shape[0], 1, dtype=torch.float64, device=parts[0].device)
        return torch.cat([*parts, ones], dim=1)
