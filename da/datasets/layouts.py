"""The folder layouts of the standard domain-adaptation benchmarks, by name.

Nothing is downloaded: the user places the data set under ``root`` and names
the layout and the domain.

============  =====================================================  ===========
layout        domains (folder of ``<class>/`` folders)               classes
============  =====================================================  ===========
office31      ``root/{amazon,dslr,webcam}/images/``                   31
officehome    ``root/{Art,Clipart,Product,Real_World}/``              65
visda2017     ``root/{train,validation}/``                            12
domainnet     ``root/{clipart,infograph,painting,quickdraw,real,      345
              sketch}/``
============  =====================================================  ===========

References: Saenko et al. (2010) Office-31; Venkateswara et al. (2017)
Office-Home; Peng et al. (2017) VisDA-2017; Peng et al. (2019) DomainNet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from da.datasets.folders import image_folder

__all__ = ["Layout", "LAYOUTS", "get_layout", "layout_folder", "layout_dataset"]


@dataclass(frozen=True)
class Layout:
    """Where a benchmark keeps each domain's class folders.

    Attributes
    ----------
    name : str
    domains : tuple of str
        The domain folder names, as on disk.
    pattern : str
        The domain's class-folder parent relative to ``root``, with ``{domain}``.
    n_classes : int
        The published class count (informative: small test folders have fewer).
    """

    name: str
    domains: tuple
    pattern: str
    n_classes: int

    def describe(self) -> str:
        """``root/{amazon,dslr,webcam}/images/<class>/*.jpg``."""
        return "root/" + self.pattern.format(domain="{" + ",".join(self.domains) + "}") + "/<class>/*.jpg"


LAYOUTS = {
    "office31": Layout("office31", ("amazon", "dslr", "webcam"), "{domain}/images", 31),
    "officehome": Layout("officehome", ("Art", "Clipart", "Product", "Real_World"), "{domain}", 65),
    "visda2017": Layout("visda2017", ("train", "validation"), "{domain}", 12),
    "domainnet": Layout("domainnet", ("clipart", "infograph", "painting", "quickdraw", "real", "sketch"),
                        "{domain}", 345),
}
_ALIASES = {"visda": "visda2017"}


def get_layout(name) -> Layout:
    """A :class:`Layout` by name; case, ``-`` and ``_`` are ignored (``Office-31``, ``office_home``)."""
    if isinstance(name, Layout):
        return name
    key = str(name).lower().replace("-", "").replace("_", "").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known layouts: {', '.join(sorted(LAYOUTS))}")
    return LAYOUTS[key]


def _domain_name(layout: Layout, domain) -> str:
    by_lower = {d.lower(): d for d in layout.domains}
    key = str(domain).lower().replace(" ", "_").replace("-", "_")
    if key not in by_lower:
        raise ValueError(f"unknown domain {domain!r} for layout {layout.name!r}; its domains are "
                         f"{list(layout.domains)}")
    return by_lower[key]


def layout_folder(layout, root, domain) -> Path:
    """The class-folder parent of ``domain`` under ``root``, checked but not read.

    Raises
    ------
    ValueError
        When ``root`` is missing; when ``root`` is itself a domain folder (or
        Office-31's ``<domain>/images``) rather than the data set's top folder;
        or when the domain's folder is missing (Office-31: also when
        ``<domain>/`` exists without its ``images/`` level).
    """
    lay = get_layout(layout)
    dom = _domain_name(lay, domain)
    root = Path(root)
    want = f"the {lay.name} layout {lay.describe()}"
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} of {want} does not exist or is not a directory")
    names = {d.lower() for d in lay.domains}
    inside = root.name.lower() in names or (root.name == "images" and root.parent.name.lower() in names)
    if inside and not any((root / d).is_dir() for d in lay.domains):
        top = root.parent.parent if root.name == "images" else root.parent
        raise ValueError(f"root {str(root)!r} is a domain folder, not the top folder of {want}: "
                         f"pass root={str(top)!r} and domain={dom!r}")
    folder = root / lay.pattern.format(domain=dom)
    if not folder.is_dir():
        extra = ""
        if (root / dom).is_dir() and folder != root / dom:
            extra = f"; {str(root / dom)!r} exists but has no {folder.name!r} level"
        raise ValueError(f"domain {dom!r} of {want} was expected at {str(folder)!r}, which does not "
                         f"exist{extra}")
    return folder


def layout_dataset(layout, root, domain, transform=None):
    """A lazy :func:`~da.datasets.folders.image_folder` for one domain of a named layout.

    Examples
    --------
    >>> ds = layout_dataset("office31", "/data/office31", "amazon")  # doctest: +SKIP
    >>> len(ds.classes)  # doctest: +SKIP
    31
    """
    lay = get_layout(layout)
    folder = layout_folder(lay, root, domain)
    return image_folder(folder, transform=transform, expected=f"the {lay.name} layout {lay.describe()}")
