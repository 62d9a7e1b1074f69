"""A map-style torch Dataset over in-memory rows, as a user's own Dataset would be."""

import torch


class Rows(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]
