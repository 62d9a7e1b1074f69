import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def sweep_rows():
    rng = np.random.default_rng(0)
    rows = []
    for m in ("source_only", "dann", "mmd"):
        for sev in (0, 30, 60):
            for seed in range(3):
                rows.append({"method": m, "severity": sev, "seed": seed,
                             "target_acc": 0.9 - sev / 200 + rng.normal(0, 0.01),
                             "gap": sev / 60 + rng.normal(0, 0.05), "true_gap": (sev / 60) ** 2})
    return rows
