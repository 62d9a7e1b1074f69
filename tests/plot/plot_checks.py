"""Assertions shared by the plot tests: what every figure must carry."""


def bar_containers(ax):
    from matplotlib.container import BarContainer

    return [c for c in ax.containers if isinstance(c, BarContainer)]


def legend_texts(ax):
    leg = ax.get_legend()
    assert leg is not None, "axes has no legend"
    return [t.get_text() for t in leg.get_texts()]


def assert_labelled(ax):
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    assert "(" in ax.get_ylabel(), f"y label without units: {ax.get_ylabel()!r}"


def assert_saves(fig, tmp_path, stem="fig"):
    from da.plot import save

    paths = save(fig, tmp_path / stem)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
