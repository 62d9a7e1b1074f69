"""Real data: offline domain pairs, lazy image datasets, benchmark layouts, splits, transforms.

* :func:`load_pair` — the small built-in pairs (in memory, offline).
* :func:`domain_from_spec` — an :class:`ImageDomain` read lazily from an image
  folder, a TLlib list file, a named layout (:data:`LAYOUTS`: Office-31,
  Office-Home, VisDA-2017, DomainNet) or a user ``Dataset``.
* :func:`split_indices` — seeded, stratified index sets for the transductive
  or inductive protocol.
* :func:`make_transforms` — torchvision ``transforms.v2`` presets by name.
* :func:`extract_outputs` — a model's outputs over a capped subsample, in batches.
"""

from da.datasets.adapters import ArrayDataset, dataset_to_arrays, image_folder_domain
from da.datasets.domains import (ImageDomain, TransformedSubset, check_same_classes, domain_from_empirical,
                                 domain_from_spec)
from da.datasets.extract import extract_outputs, subsample_indices
from da.datasets.folders import IMAGE_EXTENSIONS, ImageList, check_image_folder, image_folder, image_list
from da.datasets.layouts import LAYOUTS, Layout, get_layout, layout_dataset, layout_folder
from da.datasets.pairs import PAIRS, load_pair
from da.datasets.splits import PROTOCOLS, SplitIndices, split_indices
from da.datasets.transforms import PRESETS, Transforms, eval_transform, make_transforms, train_transform

__all__ = [
    "load_pair", "PAIRS", "ArrayDataset", "dataset_to_arrays", "image_folder_domain",
    "ImageDomain", "TransformedSubset", "domain_from_spec", "domain_from_empirical", "check_same_classes",
    "image_folder", "image_list", "ImageList", "check_image_folder", "IMAGE_EXTENSIONS",
    "LAYOUTS", "Layout", "get_layout", "layout_folder", "layout_dataset",
    "PROTOCOLS", "SplitIndices", "split_indices",
    "PRESETS", "Transforms", "make_transforms", "train_transform", "eval_transform",
    "extract_outputs", "subsample_indices",
]
