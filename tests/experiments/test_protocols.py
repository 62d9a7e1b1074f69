"""The published-benchmark configs of experiments/protocols, end to end on tiny folders of their layouts."""

from pathlib import Path

import numpy as np
import pytest

from tests._vision import require

pytestmark = pytest.mark.vision
PROTOCOLS = Path(__file__).resolve().parents[2] / "experiments" / "protocols"
# config -> (number of runs in the sweep, folder of each domain under the root)
EXPECTED = {"office31.yaml": (18, "{d}/images"), "office_home.yaml": (36, "{d}"),
            "visda2017.yaml": (3, "{d}"), "digits.yaml": (3, "{d}")}


def _images(folder: Path, classes, n: int, seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, c in enumerate(classes):
        (folder / c).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 60, (36, 36, 3)).astype(np.uint8)
            img[..., k % 3] += 150
            Image.fromarray(img).save(folder / c / f"{i}.png")


def _tiny(cfg: dict, root: Path, pattern: str) -> dict:
    """The config's first sweep point on a tiny copy of its layout, shrunk to seconds."""
    for side, seed in (("source", 0), ("target", 1)):
        entry = cfg["data"][side]
        domain = entry.get("domain") or Path(entry["folder"]).name
        folder = root / pattern.format(d=domain)
        _images(folder, ("c0", "c1", "c2"), 8, seed)
        cfg["data"][side] = ({**entry, "root": str(root)} if "layout" in entry else {"folder": str(folder)})
    cfg["data"].update(image_size=32, num_workers=0)
    cfg["model"]["weights"] = None
    cfg["train"].update(epochs=1, steps_per_epoch=2, batch_size=6)
    cfg["diagnostics"].update(max_samples=10, n_permutations=10, n_bootstrap=0)
    cfg["figures"] = False
    return cfg


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_protocol_config_runs_end_to_end_on_a_tiny_folder_of_its_layout(name, tmp_path):
    require("torchvision")
    from da.experiments.config import expand_sweep, load_config
    from da.experiments.pipeline import run_experiment

    raw = load_config(PROTOCOLS / name)
    points = expand_sweep(raw)
    n_runs, pattern = EXPECTED[name]
    assert len(points) == n_runs
    assert {p["method"] for p in points} == {"source_only", "dann", "cdan"}
    assert all(p["train"]["selection"] != "oracle" for p in points)  # published recipes, label-free here
    dann = next(p for p in points if p["method"] == "dann")
    res = run_experiment(_tiny(dann, tmp_path / "data", pattern), tmp_path / "runs")
    assert res["status"] == "completed" and 0 <= res["metrics"]["target_test_acc"] <= 1
    assert "after_features_mmd2" in res["metrics"]
