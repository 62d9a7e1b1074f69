"""A source/target pair, its train/validation/test split, and its analytic ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from da._validation import check_positive_int, check_random_state
from da.data.domain import Domain, EmpiricalDomain
from da.data.gaussian import GaussianDomain, gaussian_kl, gaussian_mixture_mmd2, gaussian_w2

__all__ = ["DomainPair", "Split", "Part", "TargetLabels", "GroundTruth"]


@dataclass(frozen=True)
class Part:
    """One part of a split: features and, where a method may use them, labels."""

    X: np.ndarray
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class TargetLabels:
    """Target labels **for evaluation only**: a method must never train on them.

    ``val`` is what an *oracle* model-selection criterion would use.
    """

    train: np.ndarray | None
    val: np.ndarray | None
    test: np.ndarray | None


@dataclass(frozen=True)
class Split:
    """Train/validation/test parts of both domains.

    The target parts carry no labels (``y is None``). The few labelled target
    examples a method may train on are ``target_labeled`` (a subset of
    ``target_train``, rows ``target_labeled_idx``). All target labels are kept
    apart in ``eval_labels`` for evaluation.
    """

    source_train: Part
    source_val: Part
    source_test: Part
    target_train: Part
    target_val: Part
    target_test: Part
    target_labeled: Part
    target_labeled_idx: np.ndarray
    eval_labels: TargetLabels
    n_classes: int
    seed: int | None = None

    def sizes(self) -> dict:
        return {k: len(getattr(self, k)) for k in (
            "source_train", "source_val", "source_test", "target_train", "target_val",
            "target_test", "target_labeled")}


@dataclass
class GroundTruth:
    """Analytic quantities of a pair. ``values`` holds what has a closed form;
    ``unavailable`` maps every other quantity to the reason it has none."""

    values: dict = field(default_factory=dict)
    unavailable: dict = field(default_factory=dict)

    def __getitem__(self, key):
        if key in self.values:
            return self.values[key]
        if key in self.unavailable:
            raise KeyError(f"{key}: no closed form ({self.unavailable[key]})")
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        return key in self.values

    def get(self, key, default=None):
        return self.values.get(key, default)

    def to_dict(self) -> dict:
        """JSON-friendly: callables are listed by name only."""
        vals = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.values.items()
                if not callable(v)}
        return {"values": vals, "callables": sorted(k for k, v in self.values.items() if callable(v)),
                "unavailable": dict(self.unavailable)}


def _parts(domain: Domain, n, val_frac: float, test_frac: float, rng, role: str):
    """Three disjoint (X, y) parts, honouring fixed splits of an EmpiricalDomain."""
    if isinstance(domain, EmpiricalDomain) and domain.splits is not None:
        N = len(domain)
        out = []
        for p, part in enumerate(("train", "val", "test")):
            rows = np.flatnonzero(domain.splits == p)
            size = rows.size if n is None else int(round(n * rows.size / N))
            if size < 1:
                raise ValueError(f"n_{role}={n} leaves the fixed {part} split of {domain.name!r} empty")
            idx = np.sort(rng.choice(rows, size=size, replace=False))
            out.append(domain._take(idx))
        return out
    if n is None:
        if isinstance(domain, EmpiricalDomain):
            n = len(domain)
        else:
            raise ValueError(f"n_{role} is required for the parametric domain {domain.name!r}")
    n = check_positive_int(n, f"n_{role}")
    n_val, n_test = int(round(n * val_frac)), int(round(n * test_frac))
    n_train = n - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise ValueError(f"n_{role}={n} is too small for non-empty train/val/test parts "
                         f"(val_frac={val_frac}, test_frac={test_frac})")
    X, y = domain.sample(n, seed=rng)
    cuts = [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)]
    return [(X[a:b], None if y is None else y[a:b]) for a, b in cuts]


class DomainPair:
    """Source and target domains over the same feature space.

    Parameters
    ----------
    source, target : Domain
    name : str, optional
    """

    def __init__(self, source: Domain, target: Domain, name: str | None = None):
        if not isinstance(source, Domain) or not isinstance(target, Domain):
            raise ValueError("source and target must be da.data.Domain instances")
        if source.dim != target.dim:
            raise ValueError(f"source and target have different feature dimensions: "
                             f"{source.dim} vs {target.dim}")
        target_labeled = not (isinstance(target, EmpiricalDomain) and not target.labeled)
        if target_labeled and source.n_classes != target.n_classes:
            raise ValueError(f"source has {source.n_classes} classes but target has {target.n_classes}")
        self.source = source
        self.target = target
        self.name = name or f"{source.name}->{target.name}"

    @property
    def n_classes(self) -> int:
        return self.source.n_classes

    def __repr__(self) -> str:
        return f"DomainPair({self.name!r}, dim={self.source.dim}, n_classes={self.n_classes})"

    def sample(self, n_source: int | None = None, n_target: int | None = None, seed=0,
               n_target_labeled: int = 0, val_frac: float = 0.2, test_frac: float = 0.2) -> Split:
        """Draw a :class:`Split`.

        ``n_source``/``n_target`` are totals over train+val+test (``None``: all
        rows of an empirical domain). Domains with fixed splits keep them, and
        each part is subsampled in proportion. ``n_target_labeled`` target
        training rows get visible labels (few-shot); the rest stay unlabelled.
        """
        for nm, f in (("val_frac", val_frac), ("test_frac", test_frac)):
            if not 0 < f < 1:
                raise ValueError(f"{nm} must be in (0, 1), got {f!r}")
        if val_frac + test_frac >= 1:
            raise ValueError("val_frac + test_frac must be < 1")
        if isinstance(n_target_labeled, bool) or not isinstance(n_target_labeled, (int, np.integer)) \
                or n_target_labeled < 0:
            raise ValueError(f"n_target_labeled must be a non-negative int, got {n_target_labeled!r}")
        ss = np.random.SeedSequence(seed if isinstance(seed, (int, np.integer)) else
                                    check_random_state(seed).integers(2**63))
        r_src, r_tgt, r_lab = (np.random.default_rng(s) for s in ss.spawn(3))
        src = _parts(self.source, n_source, val_frac, test_frac, r_src, "source")
        tgt = _parts(self.target, n_target, val_frac, test_frac, r_tgt, "target")
        if src[0][1] is None:
            raise ValueError(f"the source domain {self.source.name!r} must be labelled")
        yt_train = tgt[0][1]
        n_tt = tgt[0][0].shape[0]
        if n_target_labeled > n_tt:
            raise ValueError(f"n_target_labeled={n_target_labeled} exceeds the {n_tt} target training samples")
        if n_target_labeled and yt_train is None:
            raise ValueError("n_target_labeled > 0 but the target domain is unlabelled")
        idx = np.sort(r_lab.choice(n_tt, size=n_target_labeled, replace=False)).astype(np.int64)
        labeled = Part(tgt[0][0][idx], yt_train[idx] if yt_train is not None else np.empty(0, np.int64))
        return Split(
            source_train=Part(*src[0]), source_val=Part(*src[1]), source_test=Part(*src[2]),
            target_train=Part(tgt[0][0]), target_val=Part(tgt[1][0]), target_test=Part(tgt[2][0]),
            target_labeled=labeled, target_labeled_idx=idx,
            eval_labels=TargetLabels(tgt[0][1], tgt[1][1], tgt[2][1]),
            n_classes=self.n_classes, seed=seed if isinstance(seed, (int, np.integer)) else None)

    def ground_truth(self, bandwidth: float = 1.0) -> GroundTruth:
        """Analytic shift quantities, each only where a closed form exists.

        ``values`` may hold:

        - ``prior_tv``: total variation between class priors, ½Σ|π_k − q_k|;
        - ``kl_per_class``: KL(P_T(x|k) ‖ P_S(x|k)) (Gaussian class-conditionals);
        - ``kl_joint``: KL(P_T(x,y) ‖ P_S(x,y)) = KL(q‖π) + Σ_k q_k KL_k;
        - ``kl_marginal``: KL(P_T(x) ‖ P_S(x)), only for single Gaussians;
        - ``w2_per_class``: Bures W2 between Gaussian class-conditionals;
        - ``mmd2``: closed-form MMD² of the marginals under the Gaussian kernel
          of ``bandwidth`` (``mmd2_fn(h)`` gives other bandwidths);
        - ``density_ratio``: callable X -> p_T(x)/p_S(x).

        ``unavailable`` gives the reason for each missing quantity.
        """
        gt = GroundTruth()
        S, T = self.source, self.target
        if S.n_classes == T.n_classes:
            gt.values["prior_tv"] = float(0.5 * np.abs(S.prior - T.prior).sum())
        else:
            gt.unavailable["prior_tv"] = "source and target have different numbers of classes"
        both_gauss = isinstance(S, GaussianDomain) and isinstance(T, GaussianDomain) \
            and S.n_classes == T.n_classes
        why_not = "no closed form unless both domains are GaussianDomain with the same classes"
        if both_gauss and S.has_density and T.has_density:
            kl = np.array([gaussian_kl(T.means[k], T.covs[k], S.means[k], S.covs[k])
                           for k in range(S.n_classes)])
            gt.values["kl_per_class"] = kl
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(T.prior > 0, T.prior * (np.log(T.prior) - np.log(S.prior)), 0.0)
            gt.values["kl_joint"] = float(terms.sum() + T.prior @ kl)
            if S.n_classes == 1:
                gt.values["kl_marginal"] = float(kl[0])
            else:
                gt.unavailable["kl_marginal"] = "KL between Gaussian mixtures has no closed form"
        else:
            for key in ("kl_per_class", "kl_joint", "kl_marginal"):
                gt.unavailable[key] = why_not + " (with non-singular covariances)"
        if both_gauss:
            gt.values["w2_per_class"] = np.array([gaussian_w2(T.means[k], T.covs[k], S.means[k], S.covs[k])
                                                  for k in range(S.n_classes)])
            gt.values["mmd2"] = gaussian_mixture_mmd2(S, T, bandwidth)
            gt.values["mmd2_bandwidth"] = float(bandwidth)
            gt.values["mmd2_fn"] = lambda h: gaussian_mixture_mmd2(S, T, h)
        else:
            for key in ("w2_per_class", "mmd2"):
                gt.unavailable[key] = why_not
        ratio = self._density_ratio()
        if isinstance(ratio, str):
            gt.unavailable["density_ratio"] = ratio
        else:
            gt.values["density_ratio"] = ratio
        return gt

    def _density_ratio(self) -> Callable | str:
        from da.data.shifts import CovariateShiftDomain

        S, T = self.source, self.target
        if isinstance(T, CovariateShiftDomain) and T.base is S:
            return T.density_ratio
        if S.has_density and T.has_density:
            def ratio(X):
                return np.exp(T.log_prob_x(X) - S.log_prob_x(X))
            return ratio
        return "at least one domain has no closed-form density (and the target is not a covariate " \
               "shift of the source)"

