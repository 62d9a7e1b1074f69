"""The shared palette (Okabe–Ito) and the atomic PNG+PDF writer."""

import matplotlib.pyplot as plt
import pytest

from da.plot import OKABE_ITO, PALETTE, colors_for, save
from da.plot.style import DOMAIN_COLORS, metric_label


def test_palette_is_okabe_ito():
    # the eight published Okabe–Ito colours
    assert set(OKABE_ITO.values()) == {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442",
                                       "#0072B2", "#D55E00", "#CC79A7"}
    assert set(PALETTE) <= set(OKABE_ITO.values())
    assert DOMAIN_COLORS["source"] != DOMAIN_COLORS["target"]


def test_method_colours_are_stable_across_figures():
    a = colors_for(["dann", "mmd", "custom_a"])
    b = colors_for(["custom_b", "mmd", "dann"])
    assert a["dann"] == b["dann"] and a["mmd"] == b["mmd"]
    many = colors_for([f"m{i}" for i in range(10)])
    assert len(many) == 10 and set(many.values()) <= set(PALETTE)
    assert len(set(colors_for(["a", "b", "c"]).values())) == 3


def test_metric_labels_carry_units():
    for name in ("mmd2", "proxy_a", "target_acc", "something_acc", "unknown"):
        assert "(" in metric_label(name)


def test_save_writes_png_and_pdf_atomically(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = save(ax, tmp_path / "sub" / "line.png")  # an Axes and a suffixed stem work too
    assert [p.name for p in paths] == ["line.png", "line.pdf"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["line.pdf", "line.png"]  # no temp left
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_save_rejects_non_figures(tmp_path):
    with pytest.raises(ValueError, match="Figure or Axes"):
        save("not a figure", tmp_path / "x")
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="formats"):
        save(fig, tmp_path / "x", formats=())


def test_save_accepts_a_single_format_string(tmp_path):
    """A string format means one file, not one per character."""
    import matplotlib.pyplot as plt

    from da.plot import save

    fig, _ = plt.subplots()
    paths = save(fig, tmp_path / "one", formats="png")
    plt.close(fig)
    assert [p.name for p in paths] == ["one.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png"]
