"""Independent float64 references: explicit double loops, no matrices, no torch."""

import itertools

import numpy as np


def gauss(x, y, h):
    return float(np.exp(-np.sum((x - y) ** 2) / (2 * h * h)))


def mmd2_loop(X, Y, h):
    """Unbiased MMD^2 by double loops (Gretton et al. 2012, Eq. 3)."""
    n, m = len(X), len(Y)
    xx = sum(gauss(X[i], X[j], h) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(gauss(Y[i], Y[j], h) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(gauss(X[i], Y[j], h) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def energy_loop(X, Y):
    """V-statistic energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| by double loops (not square-rooted)."""
    def mean_dist(A, B):
        return np.mean([np.linalg.norm(a - b) for a in A for b in B])
    return 2 * mean_dist(X, Y) - mean_dist(X, X) - mean_dist(Y, Y)


def median_heuristic_loop(Z):
    """Lower median of the distances between distinct pooled points (torch's median convention)."""
    d = sorted(np.linalg.norm(Z[i] - Z[j]) for i in range(len(Z)) for j in range(i + 1, len(Z)))
    return d[(len(d) - 1) // 2]


def exact_permutation_pvalue(X, Y, stat):
    """p = #{splits with T >= T_obs} / #splits over ALL C(n+m, n) splits of the pooled sample."""
    Z = np.concatenate([X, Y])
    n, N = len(X), len(X) + len(Y)
    t0 = stat(X, Y)
    count = total = 0
    for idx in itertools.combinations(range(N), n):
        mask = np.zeros(N, bool)
        mask[list(idx)] = True
        total += 1
        count += stat(Z[mask], Z[~mask]) >= t0 - 1e-12
    return count / total
