"""Real, offline domain pairs and user-data adapters."""

from da.datasets.adapters import ArrayDataset, dataset_to_arrays, image_folder_domain
from da.datasets.pairs import PAIRS, load_pair

__all__ = ["load_pair", "PAIRS", "ArrayDataset", "dataset_to_arrays", "image_folder_domain"]
