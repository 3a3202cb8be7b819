"""Figures saved atomically (a reader never sees half a PNG), with a headless backend."""
from __future__ import annotations

import matplotlib

from recbole_irllrec.atomic_io import atomic_open

matplotlib.use("Agg")  # files only: no display on servers and in tests


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(figure)
