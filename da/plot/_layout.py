"""Creating axes, or checking the ones a caller passed in with ``ax=``."""

from __future__ import annotations

import numpy as np


def axes_grid(ax, n: int, *, figsize_per=(4.2, 3.3), ncols: int | None = None, sharex=False,
              what: str = "panels"):
    """``(fig, [Axes] * n)``: new axes in a row (or grid), or the caller's ``ax``.

    ``ax`` may be one Axes (only when ``n == 1``) or a sequence/array of
    exactly ``n`` Axes, which lets a figure be composed into a larger one.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ncols = n if ncols is None else min(ncols, n)
        nrows = int(np.ceil(n / ncols))
        fig, axs = plt.subplots(nrows, ncols, figsize=(figsize_per[0] * ncols, figsize_per[1] * nrows),
                                sharex=sharex, squeeze=False, layout="constrained")
        flat = list(axs.ravel())
        for extra in flat[n:]:
            extra.remove()
        return fig, flat[:n]
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) != n:
        raise ValueError(f"this figure draws {n} {what}; ax must be {'an Axes or ' if n == 1 else ''}"
                         f"a sequence of {n} Axes, got {len(flat)}")
    for a in flat:
        if not hasattr(a, "plot"):
            raise ValueError(f"ax must hold matplotlib Axes, got {type(a).__name__}")
    return flat[0].figure, flat
