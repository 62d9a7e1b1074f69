"""Writing figures to disk: PNG and PDF, each atomically."""

from __future__ import annotations

import io
from pathlib import Path

from da._io import atomic_write_bytes

__all__ = ["save"]


def save(fig, path_stem, formats=("png", "pdf"), dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<path_stem>.png`` and ``<path_stem>.pdf``.

    Each file is rendered in memory, written to a temporary file in the target
    directory and moved into place with :func:`os.replace`, so a reader never
    sees a half-written figure. Parent directories are created.

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        What to save; for an Axes, its whole figure is saved.
    path_stem : str or path-like
        Output path without extension (an extension that is one of
        ``formats`` is stripped, so ``"fig.png"`` also works).
    formats : sequence of str
        File formats understood by :meth:`~matplotlib.figure.Figure.savefig`.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, tempfile, os
    >>> fig, ax = plt.subplots()
    >>> paths = save(fig, os.path.join(tempfile.mkdtemp(), "demo"))
    >>> [p.suffix for p in paths]
    ['.png', '.pdf']
    >>> plt.close(fig)
    """
    figure = getattr(fig, "figure", None) if not hasattr(fig, "savefig") else fig
    if figure is None or not hasattr(figure, "savefig"):
        raise ValueError(f"fig must be a matplotlib Figure or Axes, got {type(fig).__name__}")
    if isinstance(formats, str):
        formats = (formats,)
    if not formats:
        raise ValueError("formats is empty; give at least one, e.g. ('png', 'pdf')")
    stem = Path(path_stem)
    if stem.suffix.lstrip(".").lower() in {f.lower() for f in formats}:
        stem = stem.with_suffix("")
    written = []
    for fmt in formats:
        buf = io.BytesIO()
        figure.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(atomic_write_bytes(stem.parent / f"{stem.name}.{fmt}", buf.getvalue()))
    return written
