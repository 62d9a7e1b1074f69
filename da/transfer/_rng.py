"""Seeding: every random draw in :mod:`da.transfer` comes from a ``seed`` argument.

Model initialisation and training run under :func:`seeded`, which forks the
global torch RNG, seeds the fork and restores the global state afterwards, so
a call never changes (or depends on) the caller's global seed.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from da._validation import check_random_state


def torch_seed(seed) -> int:
    """int / Generator / None -> a 63-bit int for ``torch.manual_seed``."""
    if seed is None:
        return int(np.random.default_rng().integers(2**63 - 1))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(np.random.SeedSequence(int(seed)).generate_state(2, np.uint64)[0] >> np.uint64(1))
    return int(check_random_state(seed).integers(2**63 - 1))


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run the block under a forked, seeded torch RNG (CPU, and ``device`` if CUDA)."""
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        idx = torch.device(device).index
        devices = [idx if idx is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(torch_seed(seed))
        yield
