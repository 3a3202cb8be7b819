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
  final embedding, fitted by ridge regression (``cold_ridge``) on the warm
  nodes of the side, at scoring time (closed form, no extra training);
- ``vectors``: the same map from the text vectors themselves (every kind the
  model loads, before the towers). On ml-100k's offline texts the towers map
  every cold item to nearly one point (their texts all say "no ratings in
  training", and the towers learnt the reception phrases that carry
  popularity), while the raw vectors keep title and genres: this choice
  ranked cold items best on validation (README, "Cold start").

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

COLD_CHOICES = ("cf", "intent", "profile", "combined", "vectors")


class ColdScoring(nn.Module):
    """Replaces the final embeddings of nodes without training edges by text
    embeddings (``cold_scoring``); ``towers`` maps "intent" / "profile" to the
    model's text encoders (absent or None when the model has no such tower)."""

    KEYS = ("cold_scoring", "cold_ridge")

    def __init__(self, config, edge_index: torch.Tensor, n_users: int, n_nodes: int,
                 towers: dict[str, TextEncoder | None]) -> None:
        super().__init__()
        self.n_users = n_users
        self.model_name = config["model"]
        # relative to the mean diagonal of X^T X, so one value serves 32-d outputs and 3072-d vectors
        self.ridge = float(config["cold_ridge"])
        if self.ridge < 0:
            raise ValueError(f"cold_ridge must be >= 0, got {self.ridge}")
        degree = torch.bincount(edge_index[0], minlength=n_nodes)
        real = torch.ones(n_nodes, dtype=torch.bool)
        real[0] = real[n_users] = False  # RecBole's padding user and item
        self.register_buffer("cold_nodes", torch.nonzero(real & (degree == 0)).flatten(), persistent=False)
        self.register_buffer("warm_nodes", torch.nonzero(real & (degree > 0)).flatten(), persistent=False)
        # a plain dict, not submodules: the alignment terms own the towers and their state-dict entries
        self._towers = {kind: tower for kind, tower in towers.items() if tower is not None}
        self._factors: dict[str, torch.Tensor] = {}  # side -> Cholesky factor of the vectors map's normal equations
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
        if choice in ("combined", "vectors") and not self._towers:
            raise ValueError(f"cold_scoring: {choice} needs a text tower; this {self.model_name} has none")
        self.choice = choice

    def available(self) -> tuple[str, ...]:
        """The choices this model can use."""
        return ("cf", *[kind for kind in ("intent", "profile") if kind in self._towers], "combined", "vectors")

    @torch.no_grad()
    def forward(self, final: torch.Tensor) -> torch.Tensor:
        """``final`` (every node's final embedding) with the cold nodes' rows replaced."""
        if self.choice == "cf" or self.cold_nodes.numel() == 0:
            return final
        out = final.clone()
        for side in ("user", "item"):
            cold = self._side(self.cold_nodes, side)
            if cold.numel():
                out[cold] = self._embed(final, self._vectors(cold), side)
        return out

    @torch.no_grad()
    def embed_new(self, final: torch.Tensor, vectors: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        """CF-space embeddings of new ``side`` ("user" / "item") nodes from their text
        ``vectors`` (kind -> ``[n, D]``, the same embedder and width as the dataset's),
        by the current choice (``cf`` has nothing to offer a new node: refused)."""
        if self.choice == "cf":
            raise ValueError("cold_scoring: cf cannot score a node from its text; choose another cold_scoring")
        for kind, tower in self._towers.items():
            if tower.user_vectors.shape[1] != vectors[kind].shape[1]:
                raise ValueError(
                    f"{kind} vectors of width {vectors[kind].shape[1]}: the model's {kind} tower reads "
                    f"{tower.user_vectors.shape[1]} (text_proj_dim > 0 or another embedder than the dataset's)"
                )
        return self._embed(final, {k: v.to(self._towers[k].user_vectors.dtype) for k, v in vectors.items()}, side)

    def _side(self, nodes: torch.Tensor, side: str) -> torch.Tensor:
        return nodes[nodes < self.n_users] if side == "user" else nodes[nodes >= self.n_users]

    def _vectors(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The text vectors of ``rows`` (sorted node ids), by kind."""
        return {kind: tower.inputs(rows) for kind, tower in self._towers.items()}

    def _embed(self, final: torch.Tensor, vectors: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        """Embeddings of nodes whose text vectors are ``vectors``, fitted against the warm nodes of ``side``."""
        warm = self._side(self.warm_nodes, side)
        if self.choice in ("intent", "profile"):
            scale = final.index_select(0, warm).norm(dim=1).mean()
            return F.normalize(self._towers[self.choice].tower(vectors[self.choice]), dim=1) * scale
        x = self._features(self._vectors(warm))
        factor = self._factors.get(side) if self.choice == "vectors" else None
        if factor is None:
            gram = x.T @ x
            ridge = self.ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
            factor = torch.linalg.cholesky(gram + ridge)
            if self.choice == "vectors":  # frozen vectors: X^T X is the same at every evaluation (D x D, D up to 4.6k)
                self._factors[side] = factor
        weights = torch.cholesky_solve(x.T @ final.index_select(0, warm).double(), factor)
        return (self._features(vectors) @ weights).to(final.dtype)

    def _features(self, vectors: dict[str, torch.Tensor]) -> torch.Tensor:
        """The map's inputs: every tower's output (``combined``) or the vectors themselves
        (``vectors``), by kind name, and a constant column, in float64 for the solve."""
        if self.choice == "combined":
            vectors = {kind: self._towers[kind].tower(v) for kind, v in vectors.items()}
        parts = [vectors[kind].double() for kind in sorted(vectors)]
        ones = torch.ones(parts[0].shape[0], 1, dtype=torch.float64, device=parts[0].device)
        return torch.cat([*parts, ones], dim=1)
