"""experiments/repro/streamed_mnist_m.py in --quick mode: the PNG folders hold the pair's pixels, both paths
see the same rows, and the streamed and in-memory paths train ResNet-18 to the same records, bit for bit."""

import json

import numpy as np
import pytest

from tests._repro import load_repro
from tests._vision import require

pytestmark = pytest.mark.vision


def test_quick_run_streamed_and_in_memory_paths_are_bit_identical(tmp_path):
    require("torchvision")
    from PIL import Image

    from da.datasets import PAIRS
    from da.datasets.images import mnist_m_28
    from da.experiments.image_data import build_image_pair

    m = load_repro("streamed_mnist_m")
    root = m.write_folders(tmp_path / "data" / "n60", 60)
    # what is on disk: the pair's pixels, quantised once (the first target image is row 60 of the order)
    Xm, y = mnist_m_28()
    j = np.random.default_rng(0).permutation(Xm.shape[0])[60]
    png = np.asarray(Image.open(root / "mnist_m" / str(y[j]) / "00000.png"))
    assert np.array_equal(png, np.round(Xm[j].reshape(3, 28, 28).transpose(1, 2, 0) * 255).astype(np.uint8))

    # the in-memory pair holds exactly the rows the streamed path reads, under the same split
    cfgs = m.sweep_configs(root, 1, quick=True, methods=["dann"])
    try:
        streamed = build_image_pair(cfgs["streamed"][0]["data"]).sample(seed=0)
        in_memory = m.in_memory_pair(cfgs["streamed"][0]["data"]).sample(seed=0)
    finally:
        PAIRS.pop(m.IN_MEMORY_PAIR, None)
    for part in ("source_train", "target_train", "target_test"):
        view = getattr(streamed, part).X.view(train=True)
        rows = np.stack([view[i][0].numpy().reshape(-1) for i in range(len(view))])
        assert np.array_equal(rows, getattr(in_memory, part).X), part
    assert np.array_equal(streamed.source_train.y, in_memory.source_train.y)
    assert np.array_equal(streamed.eval_labels.test, in_memory.eval_labels.test)

    # both paths through run_experiment: complete rows, diagnostics before and after, identical records
    out = m.main(["--quick", "--n", "60", "--methods", "dann", "--data", str(tmp_path / "data"),
                  "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    assert m.IN_MEMORY_PAIR not in PAIRS  # not left behind for other code
    rows = out["rows"]
    assert sorted((r["path"], r["method"]) for r in rows) == [("in_memory", "dann"), ("streamed", "dann")]
    for r in rows:
        assert all(v is not None for v in r.values()), r
        assert 0 <= r["target_test_acc"] <= 1 and r["n_steps"] == 3 and r["oracle"] is False
        run_dir = tmp_path / "runs" / r["path"] / r["run_id"]
        assert (run_dir / "report_before.json").exists() and (run_dir / "report_after.json").exists()
    streamed_row, in_memory_row = sorted(rows, key=lambda r: r["path"] != "streamed")
    assert streamed_row["run_id"] != in_memory_row["run_id"]
    assert out["bit_identical"] == {"dann/seed0": {"records_identical": True, "same_target_acc": True}}
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows)) and saved["quick"] is True
