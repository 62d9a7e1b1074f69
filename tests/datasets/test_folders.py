"""Lazy image folders, TLlib list files, user datasets: items match the files written, errors name the layout.

The reference for every item is the array written to disk (PNG is lossless).
These tests run with torchvision's ImageFolder where it imports and with the
PIL stand-in elsewhere; `test_image_folder_is_torchvision_imagefolder` pins
the torchvision path in the vision environment.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from da.datasets import ImageDomain, check_same_classes, domain_from_spec, image_folder, image_list
from da.datasets.folders import _PILImageFolder, targets_of


def write_folder(root, classes=("cat", "dog"), n=3, size=6, ext="png", seed=0):
    """root/<class>/<i>.<ext> with random RGB pixels; returns {path: array}."""
    rng = np.random.default_rng(seed)
    written = {}
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            path = root / c / f"{i}.{ext}"
            Image.fromarray(arr).save(path)
            written[str(path)] = arr
    return written


def test_folder_items_are_the_written_images(tmp_path):
    written = write_folder(tmp_path, classes=("b_dog", "a_cat"), n=4)
    ds = image_folder(tmp_path)
    assert ds.classes == ["a_cat", "b_dog"] and len(ds) == 8  # sorted class order, as ImageFolder
    for i, (path, label) in enumerate(ds.samples):
        img, y = ds[i]
        np.testing.assert_array_equal(np.asarray(img), written[path])
        assert y == label == ds.classes.index(path.split("/")[-2])
    np.testing.assert_array_equal(targets_of(ds), [0] * 4 + [1] * 4)


def test_pil_stand_in_matches_its_own_listing(tmp_path):
    write_folder(tmp_path, n=2)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = _PILImageFolder(tmp_path, transform=lambda im: torch.as_tensor(np.array(im)))
    assert len(ds) == 4 and all(p.endswith(".png") for p, _ in ds.samples)
    x, y = ds[3]
    assert x.shape == (6, 6, 3) and y == 1


def test_missing_folder_names_path_and_layout(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist \(expected layout root/<class_name>"):
        image_folder(tmp_path / "nope")


def test_one_level_too_deep(tmp_path):
    write_folder(tmp_path, classes=("cat",))
    with pytest.raises(ValueError, match="one level too deep"):
        image_folder(tmp_path / "cat")


def test_office31_images_trap_one_level_too_high(tmp_path):
    """amazon/ holds images/<class>/: ImageFolder would read one class 'images' (transferlearning #183)."""
    write_folder(tmp_path / "amazon" / "images")
    with pytest.raises(ValueError, match=r"one level too high.*images.*point at '.*amazon/images'"):
        image_folder(tmp_path / "amazon")
    assert len(image_folder(tmp_path / "amazon" / "images")) == 6


def test_empty_class_and_single_class_rejected(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"\['empty'\].*hold no images"):
        image_folder(tmp_path)
    one = tmp_path / "one"
    write_folder(one, classes=("cat",))
    with pytest.raises(ValueError, match="single class folder 'cat'"):
        image_folder(one)
    with pytest.raises(ValueError, match="holds no class folders"):
        image_folder(tmp_path / "empty")


def test_image_list_tllib_format(tmp_path):
    written = write_folder(tmp_path / "imgs", classes=("x", "y"), n=2)
    paths = sorted(written)
    lines = [f"{p[len(str(tmp_path)) + 1:]} {i % 3}" for i, p in enumerate(paths)]
    (tmp_path / "list.txt").write_text("# comment\n" + "\n".join(lines) + "\n\n")
    ds = image_list(tmp_path / "list.txt", root=tmp_path)
    assert len(ds) == 4 and ds.classes == ["0", "1", "2"]
    img, y = ds[1]
    np.testing.assert_array_equal(np.asarray(img), written[paths[1]])
    assert y == 1
    ds_named = image_list(tmp_path / "list.txt", root=tmp_path, classes=["a", "b", "c", "d"])
    assert ds_named.classes == ["a", "b", "c", "d"]


@pytest.mark.parametrize("content, match", [
    ("imgs/x/0.png\n", "line 1: expected 'relative/path.jpg label'"),
    ("imgs/x/0.png 0\nimgs/x/1.png cat\n", "line 2"),
    ("imgs/x/0.png -1\n", "negative"),
    ("imgs/x/9.png 0\n", r"1 of 1 images .* do not exist under root"),
    ("\n# only comments\n", "no 'path label' lines"),
])
def test_image_list_errors(tmp_path, content, match):
    write_folder(tmp_path / "imgs", classes=("x",), n=2)
    (tmp_path / "list.txt").write_text(content)
    with pytest.raises(ValueError, match=match):
        image_list(tmp_path / "list.txt", root=tmp_path)


def test_image_list_missing_file_and_too_few_classes(tmp_path):
    with pytest.raises(ValueError, match="list file .* does not exist"):
        image_list(tmp_path / "none.txt")
    write_folder(tmp_path / "imgs", classes=("x",), n=1)
    (tmp_path / "l.txt").write_text("imgs/x/0.png 2\n")
    with pytest.raises(ValueError, match="label 2 but only 2 classes"):
        image_list(tmp_path / "l.txt", classes=["a", "b"])


class _TensorPairs(torch.utils.data.Dataset):
    """A user dataset without a `targets` attribute."""

    def __init__(self, n=6):
        self.x = torch.arange(n * 4, dtype=torch.float32).reshape(n, 1, 2, 2)
        self.y = torch.arange(n) % 3

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_user_dataset_domain_and_transformed_subset():
    ds = _TensorPairs()
    dom = domain_from_spec(ds, name="mine")
    np.testing.assert_array_equal(dom.targets, [0, 1, 2, 0, 1, 2])  # read item by item
    assert dom.classes == ("0", "1", "2") and dom.n_classes == 3 and len(dom) == 6
    view = dom.subset([4, 1], transform=lambda x: 2 * x)
    x, y = view[0]
    assert len(view) == 2 and y == 1 and torch.equal(x, 2 * ds.x[4])
    batch = next(iter(torch.utils.data.DataLoader(view, batch_size=2)))
    assert torch.equal(batch[0], 2 * ds.x[[4, 1]]) and batch[1].tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 6\)"):
        dom.subset([6])


def test_user_dataset_rejects_non_pairs_and_tiny():
    with pytest.raises(ValueError, match="not an \\(image, label\\) pair"):
        ImageDomain([torch.zeros(2), torch.zeros(2)], name="bare")
    with pytest.raises(ValueError, match="at least 2"):
        ImageDomain([(torch.zeros(2), 0)], name="one")
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        ImageDomain([(torch.zeros(2), 0), (torch.zeros(2), 5)], classes=["a", "b"])


def test_spec_forms(tmp_path):
    write_folder(tmp_path / "src")
    write_folder(tmp_path / "office" / "amazon" / "images")
    (tmp_path / "l.txt").write_text("src/cat/0.png 0\nsrc/dog/0.png 1\n")
    assert len(domain_from_spec(str(tmp_path / "src"))) == 6
    assert domain_from_spec({"folder": tmp_path / "src"}).name == "src"
    assert len(domain_from_spec({"list": tmp_path / "l.txt", "root": tmp_path})) == 2
    d = domain_from_spec({"layout": "Office-31", "root": tmp_path / "office", "domain": "amazon"})
    assert d.name == "amazon" and d.classes == ("cat", "dog")
    with pytest.raises(ValueError, match="exactly one of 'folder', 'list' or 'layout'"):
        domain_from_spec({"folder": tmp_path, "list": "x"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['domain'\]"):
        domain_from_spec({"folder": tmp_path / "src", "domain": "a"})
    with pytest.raises(ValueError, match="needs 'domain'"):
        domain_from_spec({"layout": "office31", "root": tmp_path / "office"})


def test_class_lists_must_match(tmp_path):
    write_folder(tmp_path / "s", classes=("cat", "dog", "owl"))
    write_folder(tmp_path / "t", classes=("cat", "dog", "yak"))
    s, t = domain_from_spec(tmp_path / "s"), domain_from_spec(tmp_path / "t")
    assert check_same_classes(s, s) == ("cat", "dog", "owl")
    with pytest.raises(ValueError, match=r"only in source \['owl'\], only in target \['yak'\]"):
        check_same_classes(s, t)
    shuffled = ImageDomain(s.dataset, name="t2", classes=("dog", "cat", "owl"))
    with pytest.raises(ValueError, match="different order"):
        check_same_classes(s, shuffled)


@pytest.mark.vision
def test_image_folder_is_torchvision_imagefolder(tmp_path):
    from _vision import require

    datasets = require("torchvision.datasets")
    written = write_folder(tmp_path, ext="jpg")
    ds = image_folder(tmp_path)
    assert isinstance(ds, datasets.ImageFolder)
    ref = datasets.ImageFolder(str(tmp_path))
    assert ds.samples == ref.samples and len(written) == len(ds)
    np.testing.assert_array_equal(np.asarray(ds[2][0]), np.asarray(ref[2][0]))


def test_builtin_pair_as_image_domain_keeps_rows_and_splits():
    from da.data import EmpiricalDomain
    from da.datasets import domain_from_empirical, split_indices

    rng = np.random.default_rng(0)
    X, y = rng.random((30, 12)).astype(np.float32), np.arange(30) % 3
    splits = np.repeat([0, 1, 2], 10)
    emp = EmpiricalDomain(X, y, n_classes=4, image_shape=(3, 2, 2), splits=splits, name="toy")
    dom = domain_from_empirical(emp)
    assert dom.n_classes == 4 and dom.name == "toy"
    x, label = dom.subset()[7]
    assert torch.equal(x, torch.from_numpy(X[7]).reshape(3, 2, 2)) and label == y[7]
    s = split_indices(dom, dom, protocol="inductive", source_assignment=emp.splits,
                      target_assignment=emp.splits)
    np.testing.assert_array_equal(s.source_train, np.arange(10))
    np.testing.assert_array_equal(s.target_test, np.arange(20, 30))
