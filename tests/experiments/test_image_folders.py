"""`da run` on image folders on disk: an Office-31-layout folder, ResNet-18 from torchvision, streamed."""

import json

import numpy as np
import pytest

from tests._vision import require

pytestmark = pytest.mark.vision

CLASSES = ("back_pack", "bike", "calculator")


def _office31(root, n=6, size=40, seed=0):
    """root/{amazon,webcam}/images/<class>/*.jpg: coloured squares, shifted in colour on the webcam side."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for d, (domain, tint) in enumerate((("amazon", 0), ("webcam", 60))):
        for k, name in enumerate(CLASSES):
            folder = root / domain / "images" / name
            folder.mkdir(parents=True)
            for i in range(n):
                img = np.full((size, size, 3), tint, np.uint8)
                img[:, :, k] = 150 + rng.integers(0, 100)  # the class is the dominant channel
                img = np.clip(img + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(folder / f"{i}.jpg")
    return root


def _config(root, out, **train):
    return {"name": "office31-tiny", "output": str(out), "seed": 0, "method": "dann", "figures": False,
            "data": {"source": {"layout": "office31", "root": str(root), "domain": "amazon"},
                     "target": {"layout": "office31", "root": str(root), "domain": "webcam"},
                     "image_size": 32, "augment": "imagenet", "protocol": "transductive"},
            "model": {"backbone": "torchvision/resnet18", "weights": None, "bottleneck": 16},
            "pretrain": {"epochs": 1, "batch_size": 6},
            "train": {"epochs": 2, "batch_size": 6, "optimizer": "sgd", "lr": 0.01, "steps_per_epoch": 2,
                      **train},
            "diagnostics": {"tests": ["mmd"], "gaps": ["mmd2"], "max_samples": 12, "n_permutations": 20,
                            "n_bootstrap": 0}}


def test_da_run_on_an_office31_folder_with_resnet18_writes_a_complete_run(tmp_path):
    require("torchvision")
    from da.experiments.pipeline import run_experiment

    root = _office31(tmp_path / "office31")
    res = run_experiment(_config(root, tmp_path / "runs"))
    run_dir = tmp_path / "runs" / res["run_id"]
    assert res["status"] == "completed" and json.loads((run_dir / "result.json").read_text())["run_id"] == \
        res["run_id"]
    for name in ("report_before.json", "report_after.json", "metrics.jsonl", "config.yaml", "model.pt"):
        assert (run_dir / name).exists(), name
    m = res["metrics"]
    assert 0 <= m["target_test_acc"] <= 1 and "after_features_mmd2" in m and "before_features_mmd2" in m
    assert res["config"]["data"]["protocol"] == "transductive"
    assert res["losses"][0]["name"] == "dann" and res["losses"][0]["params"]["in_features"] == 16


def test_image_folder_errors_name_the_layout(tmp_path):
    require("torchvision")
    from da.experiments.pipeline import run_experiment

    root = _office31(tmp_path / "office31", n=2)
    bad = _config(root, tmp_path / "runs")
    bad["data"]["source"] = {"folder": str(root / "amazon")}  # one level above the class folders
    with pytest.raises(Exception, match="images"):
        run_experiment(bad)
    other = tmp_path / "other" / "webcam" / "images" / "stapler"
    other.mkdir(parents=True)
    for jpg in (root / "webcam" / "images" / "calculator").iterdir():
        jpg.rename(other / jpg.name)  # the target has a stapler class instead of a calculator
    (root / "webcam" / "images" / "bike").rename(other.parent / "bike")
    (root / "webcam" / "images" / "back_pack").rename(other.parent / "back_pack")
    mismatch = _config(root, tmp_path / "runs")
    mismatch["data"]["target"] = {"folder": str(tmp_path / "other" / "webcam" / "images")}
    with pytest.raises(Exception, match="different class lists"):
        run_experiment(mismatch)


def test_method_auto_ensembles_resnet18_candidates_streamed_from_folders(tmp_path):
    """`method: auto` with `auto.rule: ensemble` on streamed image rows: the candidates' mean softmax is the run's
    model, checkpointed with every member and diagnosed on their concatenated features."""
    require("torchvision")
    import torch

    from da.experiments.pipeline import run_experiment

    root = _office31(tmp_path / "office31")
    cfg = dict(_config(root, tmp_path / "runs"), method="auto",
               auto={"rule": "ensemble", "tolerance": None, "finetune_epochs": 1,
                     "candidates": [{"name": "source_only"}, {"name": "dann", "method": "dann"},
                                    {"name": "mmd", "method": "mmd"}]})
    res = run_experiment(cfg)
    assert res["auto"]["chosen"] == "ensemble" and res["auto"]["members"] == ["source_only", "dann", "mmd"]
    run_dir = tmp_path / "runs" / res["run_id"]
    state = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    assert {k.split(".")[2] for k in state if k.startswith("featurizer.members.")} == {"0", "1", "2"}
    after = json.loads((run_dir / "report_after.json").read_text())
    assert after["meta"]["feature_dim"] == 3 * 16  # the three members' bottlenecks side by side
    assert 0 <= res["metrics"]["target_test_acc"] <= 1
