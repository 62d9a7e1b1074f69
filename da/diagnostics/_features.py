"""Apply a model or a callable to held-out inputs, in batches, without gradients."""

from __future__ import annotations

import numpy as np


def _extract_features(features, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """``features(X)`` as a float64 (n, k) array.

    ``features`` is a ``torch.nn.Module`` (run in eval mode under ``no_grad`` on
    tensors of its parameters' dtype and device, then restored to its previous mode) or any callable taking
    a numpy batch. Outputs of more than two dimensions are flattened per row.
    """
    import torch

    if isinstance(features, torch.nn.Module):
        was_training = features.training
        features.eval()
        try:
            param = next(features.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
            dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
            out = []
            with torch.no_grad():
                for s in range(0, X.shape[0], batch_size):
                    xb = torch.as_tensor(np.asarray(X[s:s + batch_size]), device=device, dtype=dtype)
                    out.append(features(xb).detach().cpu().double().numpy())
        finally:
            features.train(was_training)
        F = np.concatenate(out)
    elif callable(features):
        parts = []
        for s in range(0, X.shape[0], batch_size):
            fb = features(X[s:s + batch_size])
            if isinstance(fb, torch.Tensor):
                fb = fb.detach().cpu().numpy()
            parts.append(np.asarray(fb, dtype=np.float64))
        F = np.concatenate(parts)
    else:
        raise ValueError(f"features must be a torch.nn.Module or a callable X -> features, "
                         f"got {type(features).__name__}")
    if F.shape[0] != X.shape[0]:
        raise ValueError(f"features returned {F.shape[0]} rows for {X.shape[0]} inputs")
    return F.reshape(F.shape[0], -1)
