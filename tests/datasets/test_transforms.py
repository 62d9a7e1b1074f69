"""Transform presets (torchvision transforms.v2) against closed forms and torchvision's classic v1 pipeline."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from da.datasets import PRESETS, eval_transform, make_transforms, train_transform
from da.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD


def _photo(h=90, w=120, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h // 10, w // 10, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((w, h), Image.BILINEAR)  # smooth, so resampling differs little


def test_missing_torchvision_says_which_pip(monkeypatch):
    for mod in ("torchvision", "torchvision.transforms", "torchvision.transforms.v2"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match="pip install torchvision"):
        make_transforms("imagenet", 224)


def test_user_callables_pass_through_and_bad_names():
    def mine(x):
        return x

    def other(x):
        return x

    t = make_transforms(mine, 32, target=other)
    assert t.source_train is mine and t.target_train is other and t.eval is mine
    with pytest.raises(ValueError, match=r"augment must be one of \('imagenet', 'digits', 'none'\)"):
        train_transform("autoaugment", 32)
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        eval_transform("none", 0)


@pytest.mark.vision
@pytest.mark.parametrize("size", [224, 64])
def test_imagenet_eval_matches_classic_torchvision(size):
    from _vision import require

    T = require("torchvision.transforms")
    img = _photo()
    ref = T.Compose([T.Resize(round(256 * size / 224)), T.CenterCrop(size), T.ToTensor(),
                     T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(img)
    out = eval_transform("imagenet", size)(img)
    assert out.shape == (3, size, size) and out.dtype == torch.float32
    # v2 resizes the uint8 tensor, v1 the PIL image: equal up to resampling rounding
    assert (out - ref).abs().mean() < 0.01 and (out - ref).abs().max() < 0.1


@pytest.mark.vision
def test_constant_image_closed_forms():
    from _vision import require

    require("torchvision")
    img = Image.fromarray(np.full((40, 50, 3), 200, np.uint8))
    v = 200 / 255
    imnet = torch.tensor([(v - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]).view(3, 1, 1)
    torch.testing.assert_close(train_transform("imagenet", 32)(img), imnet.expand(3, 32, 32))
    torch.testing.assert_close(train_transform("digits", 28)(img), torch.full((3, 28, 28), (v - 0.5) / 0.5))
    torch.testing.assert_close(eval_transform("none", 16)(img), torch.full((3, 16, 16), v))


@pytest.mark.vision
def test_train_is_random_and_seeded_eval_is_not():
    from _vision import require

    require("torchvision")
    img = _photo()
    t = make_transforms("imagenet", 48)
    torch.manual_seed(0)
    a = t.source_train(img)
    torch.manual_seed(0)
    b = t.source_train(img)
    c = t.source_train(img)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(t.eval(img), t.eval(img))
    d = train_transform("digits", 20)
    assert torch.equal(d(img), d(img)), "digits: no random flip or crop"


@pytest.mark.vision
def test_presets_accept_tensors_and_greyscale():
    from _vision import require

    require("torchvision")
    x = torch.rand(3, 30, 30)
    for name in PRESETS:
        assert eval_transform(name, 24)(x).shape == (3, 24, 24)
    grey = Image.fromarray(np.full((30, 30), 10, np.uint8))
    assert train_transform("digits", 28)(grey).shape == (1, 28, 28)


@pytest.mark.vision
def test_preset_steps_are_the_published_recipe():
    from _vision import require

    require("torchvision")

    def steps(t):
        return [(type(s).__name__, getattr(s, "size", None)) for s in t.transforms]

    assert steps(train_transform("imagenet", 224)) == [
        ("ToImage", None), ("Resize", [256]), ("RandomResizedCrop", (224, 224)),
        ("RandomHorizontalFlip", None), ("ToDtype", None), ("Normalize", None)]
    assert steps(eval_transform("imagenet", 224)) == [
        ("ToImage", None), ("Resize", [256]), ("CenterCrop", (224, 224)), ("ToDtype", None),
        ("Normalize", None)]
    assert "RandomHorizontalFlip" not in [n for n, _ in steps(train_transform("digits", 28))]
