"""Atomic writing of the analysis outputs (a reader never sees half a file)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests


@contextlib.contextmanager
def atomic_target(path: str) -> Iterator[str]:
    """Yield a temporary sibling path of ``path``; move it over ``path`` on success."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    suffix = os.path.splitext(path)[1]  # keeps matplotlib's format detection working
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=os.path.dirname(path))
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_target(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)


def save_figure(figure, path: str, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_target(path) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(figure)
