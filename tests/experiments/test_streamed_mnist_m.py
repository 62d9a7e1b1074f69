"""experiments/repro/streamed_mnist_m.py in --quick mode: the PNG folders hold the pair's pixels, and the
streamed and in-memory paths train ResNet-18 to the same records, bit for bit."""

import json

import numpy as np
import pytest

from tests._repro import load_repro
from tests._vision import require

pytestmark = pytest.mark.vision


def test_png_folders_hold_the_pairs_pixels_and_both_paths_see_the_same_rows(tmp_path):
    require("torchvision")
    from PIL import Image

    from da.datasets import PAIRS
    from da.datasets.images import mnist_m_28
    from da.experiments.config import resolve_config
    from da.experiments.image_data import build_image_pair

    m = load_repro("streamed_mnist_m")
    root = m.write_folders(tmp_path / "data", 60)
    Xm, y = mnist_m_28()
    j = np.random.default_rng(0).permutation(Xm.shape[0])[60]  # the first target image: row 60 of the order
    png = np.asarray(Image.open(root / "mnist_m" / str(y[j]) / "00000.png"))
    assert np.array_equal(png, np.round(Xm[j].reshape(3, 28, 28).transpose(1, 2, 0) * 255).astype(np.uint8))

    cfgs = m.sweep_configs(root, 1, quick=True, methods=["source_only"])
    try:
        streamed = build_image_pair(resolve_config(cfgs["streamed"][0])["data"]).sample(seed=0)
        in_memory = m.in_memory_pair(cfgs["streamed"][0]["data"]).sample(seed=0)
    finally:
        PAIRS.pop(m.IN_MEMORY_PAIR, None)
    for part in ("source_train", "target_train", "target_test"):
        view = getattr(streamed, part).X.view()
        rows = np.stack([view[i][0].numpy().reshape(-1) for i in range(len(view))])
        assert np.array_equal(rows, getattr(in_memory, part).X), part
    assert np.array_equal(streamed.source_train.y, in_memory.source_train.y)
    assert np.array_equal(streamed.eval_labels.test, in_memory.eval_labels.test)


def test_quick_run_gives_complete_rows_and_bit_identical_paths(tmp_path):
    require("torchvision")
    from da.datasets import PAIRS

    m = load_repro("streamed_mnist_m")
    out = m.main(["--quick", "--n", "60", "--methods", "dann", "--data", str(tmp_path / "data"),
                  "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    assert m.IN_MEMORY_PAIR not in PAIRS  # not left behind for other code
    rows = out["rows"]
    assert sorted((r["path"], r["method"]) for r in rows) == [("in_memory", "dann"), ("streamed", "dann")]
    for r in rows:
        assert all(v is not None for k, v in r.items() if k not in ("pretrain_images_per_s",)), r
        assert 0 <= r["target_test_acc"] <= 1 and r["n_steps"] == 3 and r["oracle"] is False
        run_dir = tmp_path / "runs" / r["path"] / r["run_id"]
        assert (run_dir / "report_before.json").exists() and (run_dir / "report_after.json").exists()
    streamed, in_memory = sorted(rows, key=lambda r: r["path"] != "streamed")
    assert streamed["run_id"] != in_memory["run_id"]
    assert out["bit_identical"] == {"dann/seed0": {"records_identical": True, "same_target_acc": True}}
    assert streamed["after_features_mmd2"] is not None
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(out["rows"])) and saved["quick"] is True
