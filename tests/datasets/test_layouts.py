"""Named benchmark layouts on tiny generated folders: each domain is found where the layout says, errors name it."""

import pytest

from da.datasets import LAYOUTS, get_layout, layout_dataset, layout_folder
from test_folders import write_folder


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_domain_of_every_layout(tmp_path, name):
    lay = LAYOUTS[name]
    for d in lay.domains:
        write_folder(tmp_path / lay.pattern.format(domain=d), classes=("bike", "mug"), n=2, size=4)
    for d in lay.domains:
        ds = layout_dataset(name, tmp_path, d.lower())  # domain names are case-insensitive
        assert ds.classes == ["bike", "mug"] and len(ds) == 4
        assert all(p.startswith(str(tmp_path / lay.pattern.format(domain=d))) for p, _ in ds.samples)


def test_layout_names_and_description():
    assert get_layout("Office-31") is LAYOUTS["office31"]
    assert get_layout("office_home").domains == ("Art", "Clipart", "Product", "Real_World")
    assert get_layout("VisDA").name == "visda2017"
    assert LAYOUTS["office31"].describe() == "root/{amazon,dslr,webcam}/images/<class>/*.jpg"
    with pytest.raises(ValueError, match="known layouts: domainnet, office31, officehome, visda2017"):
        get_layout("pacs")
    with pytest.raises(ValueError, match=r"unknown domain 'photo'.*\['Art', 'Clipart'"):
        layout_folder("officehome", "/", "photo")


def test_missing_root_and_domain(tmp_path):
    with pytest.raises(ValueError, match=r"root .* of the office31 layout root/\{amazon,dslr,webcam\}/images"):
        layout_folder("office31", tmp_path / "nowhere", "amazon")
    write_folder(tmp_path / "amazon" / "images")
    with pytest.raises(ValueError, match=r"domain 'dslr' .* expected at '.*dslr/images', which does not exist"):
        layout_folder("office31", tmp_path, "dslr")


def test_office31_without_images_level(tmp_path):
    write_folder(tmp_path / "webcam")  # classes directly under webcam/
    with pytest.raises(ValueError, match=r"'.*webcam' exists but has no 'images' level"):
        layout_folder("office31", tmp_path, "webcam")


@pytest.mark.parametrize("inner", ["amazon", "amazon/images"])
def test_root_pointing_at_a_domain_folder(tmp_path, inner):
    write_folder(tmp_path / "amazon" / "images")
    with pytest.raises(ValueError, match=rf"is a domain folder.*pass root='{tmp_path}' and domain='amazon'"):
        layout_folder("office31", tmp_path / inner, "amazon")


def test_incomplete_domain_folder(tmp_path):
    write_folder(tmp_path / "Art")
    (tmp_path / "Art" / "empty_class").mkdir()
    with pytest.raises(ValueError, match=r"\['empty_class'\] .* hold no images .*officehome layout"):
        layout_dataset("officehome", tmp_path, "Art")
