"""2-D picture of a model's interaction, profile and intent embeddings (the paper's Fig. 1c).

interaction: the model's final CF embeddings; profile / intent: the profile /
intent tower's output for every node. Kinds a model does not have (no tower)
are left out and named in the notes. The same sample of real users and items
is drawn from every kind; rows are L2-normalised before projecting, since the
alignment terms compare them by cosine. Each kind gets its own projection
(scikit-learn PCA or t-SNE), a scatter of users and items, and a Gaussian KDE contour.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from recbole_irllrec.analysis.output import save_figure

METHODS = ("pca", "tsne")


@dataclass
class EmbeddingPicture:
    """What was plotted: 2-D points per kind (same rows everywhere) and notes."""

    points: dict[str, np.ndarray]
    is_user: np.ndarray
    notes: list[str] = field(default_factory=list)


@torch.no_grad()
def model_embeddings(model) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``{kind: [n_users + n_items, d]}`` (users then items, padding rows
    included) and notes on the kinds that are missing."""
    model.eval()
    # the plugin's and RecBole's graph models return (users, items) from forward()
    output = model.forward()
    if not (isinstance(output, tuple) and len(output) >= 2):
        raise ValueError(f"{type(model).__name__} does not expose user and item embeddings")
    user_e, item_e = output[0], output[1]
    kinds = {"interaction": torch.cat([user_e, item_e])}
    notes = []
    profile = getattr(model, "profile_alignment", None)
    for kind, encoder in (("profile", profile.text if profile is not None else None), ("intent", getattr(model, "intent_text", None))):
        if encoder is not None:
            kinds[kind] = encoder()
        else:
            notes.append(f"no {kind} embeddings: {type(model).__name__} has no {kind} tower (it trains without {kind} texts)")
    return kinds, notes


def project(x: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``x`` projected to 2-D with scikit-learn PCA or t-SNE."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(x)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def embedding_picture(model, method: str = "pca", sample: int = 2000, seed: int = 0) -> EmbeddingPicture:
    """Project a sample of real users and items of every embedding kind to 2-D."""
    kinds, notes = model_embeddings(model)
    n_users = model.n_users
    n_nodes = n_users + model.n_items
    real = np.delete(np.arange(n_nodes), [0, n_users])  # rows 0 and n_users are padding
    if sample and sample < len(real):
        real = np.sort(np.random.default_rng(seed).choice(real, size=sample, replace=False))
    points = {}
    for kind, embeddings in kinds.items():
        x = torch.nn.functional.normalize(embeddings[real].float(), dim=1).cpu().numpy()
        points[kind] = project(x, method, seed)
    return EmbeddingPicture(points, real < n_users, notes)


PAD = 0.08  # of each axis' span around the points: the outermost ones stay whole inside the frame
NOTE_SIZE = 8  # points; the notes are wrapped to the figure's width at this size


def _frame(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(xlim, ylim)``: the points' extent padded by :data:`PAD` on every side."""
    low, high = xy.min(0), xy.max(0)
    pad = np.where(high > low, (high - low) * PAD, 1.0)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def _density(ax, xy: np.ndarray, xlim, ylim) -> None:
    """Gaussian KDE contours of the points over the whole panel (skipped when the points are degenerate)."""
    from scipy.stats import gaussian_kde

    try:
        kde = gaussian_kde(xy.T)
    except (np.linalg.LinAlgError, ValueError):
        return
    gx, gy = np.mgrid[xlim[0] : xlim[1] : 80j, ylim[0] : ylim[1] : 80j]
    density = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    ax.contourf(gx, gy, density, levels=8, cmap="Greens", alpha=0.45)
    ax.contour(gx, gy, density, levels=8, colors="darkgreen", linewidths=0.4)


def _wrapped(text: str, width_inches: float, size: float) -> str:
    """``text`` broken into lines that fit ``width_inches`` at font ``size`` (about 0.6 em a character)."""
    import textwrap

    return textwrap.fill(text, width=max(20, int(width_inches * 72 / (0.6 * size))))


def draw_picture(picture: EmbeddingPicture, title: str = ""):
    """One panel per embedding kind: KDE density, users and items as dots; the
    notes on missing kinds go below the panels."""
    import matplotlib.pyplot as plt

    kinds = list(picture.points)
    width = 4.2 * len(kinds)
    # constrained layout keeps the title, the panels' titles and the notes apart
    figure, axes = plt.subplots(1, len(kinds), figsize=(width, 4.2), squeeze=False, layout="constrained")
    for ax, kind in zip(axes[0], kinds):
        xy = picture.points[kind]
        xlim, ylim = _frame(xy)
        _density(ax, xy, xlim, ylim)
        ax.scatter(*xy[picture.is_user].T, s=3, alpha=0.5, color="#1f77b4", label="users")
        ax.scatter(*xy[~picture.is_user].T, s=3, alpha=0.5, color="#ff7f0e", label="items")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_title(f"{kind} embeddings", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(loc="upper right", fontsize=8, markerscale=3)
    if title:
        figure.suptitle(_wrapped(title, width, 10), fontsize=10)
    if picture.notes:
        # the figure's x label slot: below the panels, and the layout makes room for it
        notes = "\n".join(_wrapped(note, width, NOTE_SIZE) for note in picture.notes)
        figure.supxlabel(notes, fontsize=NOTE_SIZE, color="#555555")
    return figure


def plot_picture(picture: EmbeddingPicture, path: str, title: str = "") -> None:
    """:func:`draw_picture`, saved as a PNG at ``path``."""
    save_figure(draw_picture(picture, title), path)


def run_embplot(model_file: str, out: str, method: str = "pca", sample: int = 2000, seed: int = 0) -> EmbeddingPicture:
    """Load ``model_file``, project its embeddings and save the PNG at ``out``."""
    from recbole_irllrec.quick_start import load_data_and_model

    config, model, *_ = load_data_and_model(model_file)
    picture = embedding_picture(model, method, sample, seed)
    plot_picture(picture, out, f"{config['model']} on {config['dataset']}: {method.upper()}, {len(picture.is_user)} users+items")
    return picture
