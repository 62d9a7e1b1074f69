"""A scikit-learn estimator over the training loop: ``DomainAdaptationClassifier``."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from da._lazy import lazy_function
from da._validation import check_alignment_target, check_array, check_labels, check_not_constant
from da.transfer.losses import _json_value, check_weight
from da.transfer.recipes import method_of, method_of_terms, method_recipe
from da.transfer.models import FeaturizerHead, mlp
from da.transfer.trainer import TrainConfig, Trainer, make_split

softmax = lazy_function("scipy.special", "softmax")

__all__ = ["DomainAdaptationClassifier"]


class DomainAdaptationClassifier(ClassifierMixin, BaseEstimator):
    r"""Unsupervised (or few-shot) domain adaptation as one ``fit`` call.

    Trains ``head(featurizer(x))`` by minimising

    .. math:: \mathrm{CE}_S + \mathrm{CE}_{T,\mathrm{labelled}} + \sum_i \lambda_i(p)\, L_i(f_s, f_t)

    with the training loop of :func:`da.transfer.finetune` (this class is a
    thin wrapper over it).

    Parameters
    ----------
    featurizer, head : nn.Module, optional
        Omitted: an MLP ``in_dim -> hidden -> n_classes`` sized from the data.
        Given modules are copied at ``fit``; the originals are left untouched.
    align : None, str, loss module or list of (loss, weight)
        ``None`` (source only), ``"mmd"``, ``"dann"``, ``"cdan"``, ``"jdot"``,
        ``"coral"``, ``"sinkhorn"``, ``"swd"``, ``"infomax"``, ``"infomax_coral"`` (both losses, infomax at 2
        and CORAL at 1e4: :data:`da.transfer.recipes.COMBINATIONS`), ``"auto"`` (a label-free choice
        among a few methods and weights, :func:`da.transfer.auto.fit_auto`), a
        :mod:`da.align` loss, or a list of ``(loss, weight_or_schedule)`` pairs
        (``loss`` a module or a name).
    weight : float, str, callable or None
        Weight λ of a single ``align`` given by name or module: a number ``>= 0``,
        a schedule name (``"ganin"``) or a callable ``p -> lambda >= 0``. ``None``:
        the method's own weight (:data:`da.transfer.recipes.METHOD_RECIPES`). For ``"infomax_coral"`` a
        number that multiplies each term's weight (``None``: 1).
    hidden : tuple of int
        Hidden widths of the default MLP.
    optimizer, lr, lr_schedule, grad_clip : optional
        ``None`` (each): the method's own recipe (:func:`da.transfer.recipes.method_recipe`;
        e.g. SGD with momentum and Ganin's annealing where the benchmark says so, and
        for those adversarial recipes a gradient-norm clip at 100; none otherwise),
        recorded in ``recipe_``. Any value given is used as is; Adam for an
        adversarial loss keeps the trainer's memorised-source warning.
    epochs, batch_size, weight_decay, horizon, patience
        See :class:`~da.transfer.TrainConfig`.
    selection : str, optional
        Named epoch-selection criterion (``"source_val"``, ``"source_val_loss"``, ``"source_val_drift"``,
        ``"iwcv"``, ``"dev"``, ``"entropy"``, ``"snd"``, ``"last"``). ``None``: the method's recipe
        (:data:`~da.transfer.recipes.METHOD_RECIPES`: ``"source_val_loss"`` for MMD,
        CORAL, DANN and SWD, ``"source_val_drift"`` for CDAN, where the benchmark says so,
        ``"source_val"`` otherwise),
        recorded in ``recipe_``. ``"oracle"`` is not available here
        (no labelled target validation data); use :func:`da.transfer.finetune` with a Split.
    val_fraction : float
        Source fraction held out for validation.
    strategy : Strategy or str, optional
        Transfer strategy applied to the given (pretrained) featurizer/head.
    device : str, optional
    seed : int
    verbose : bool
    auto_params : dict, optional
        With ``align="auto"`` only: options of :func:`da.transfer.auto.fit_auto`
        (``candidates``, ``candidate_training``, ``finetune_epochs``, ``rule``, ``tolerance``),
        e.g. ``{"rule": "ensemble", "tolerance": None}`` or ``{"rule": "ensemble_top3:bnm", "tolerance": None,
        "candidate_training": "scratch", "candidates": ...}`` (stage 19's option, docs/defaults.md).
        ``None``: its defaults.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    model_ : FeaturizerHead
        The trained network (selected weights).
    history_ : list of dict
        Per-epoch records: losses, λ, lr, discriminator statistics, accuracies.
    result_ : FitResult
    selection_ : str or dict
        The epoch-selection criterion's name; with ``align="auto"``, the record of
        the method choice (every candidate's scores, the chosen one and why).
    recipe_ : dict
        The resolved ``weight``, ``optimizer``, ``lr``, ``lr_schedule``, ``grad_clip`` and ``selection``,
        and for each whether it came from the user or from the method's recipe.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Xs, ys = rng.normal(size=(80, 2)).astype("float32"), rng.integers(0, 2, 80)
    >>> Xt = rng.normal(size=(60, 2)).astype("float32") + 1.0
    >>> clf = DomainAdaptationClassifier(align="mmd", epochs=2, batch_size=32, hidden=(8,), device="cpu")
    >>> clf.fit(Xs, ys, Xt).predict(Xt).shape
    (60,)
    """

    def __init__(self, featurizer=None, head=None, align="dann", weight=None, *, hidden=(256, 128),
                 epochs=30, batch_size=128, lr=None, optimizer=None, weight_decay=0.0,
                 lr_schedule=None, horizon=None, grad_clip=None, patience=None,
                 selection=None, val_fraction=0.1, strategy=None, device=None, seed=0,
                 verbose=False, auto_params=None):
        self.featurizer = featurizer
        self.head = head
        self.align = align
        self.weight = weight
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.horizon = horizon
        self.grad_clip = grad_clip
        self.patience = patience
        self.selection = selection
        self.val_fraction = val_fraction
        self.strategy = strategy
        self.device = device
        self.seed = seed
        self.verbose = verbose
        self.auto_params = auto_params

    def _recipe(self, align=None) -> dict:
        """The resolved weight and optimizer: the user's values, else the method's recipe (recorded)."""
        align = self.align if align is None else align
        if isinstance(align, (list, tuple)):
            items = [t[-2] if isinstance(t, (list, tuple)) else getattr(t, "loss", t) for t in align]
            method = method_of_terms([method_of(x) for x in items])
        else:
            method = method_of(align)
        rec = method_recipe(method)
        out = {"method": method, "from": {}}
        user = {"weight": self.weight, "optimizer": self.optimizer, "lr": self.lr, "lr_schedule": self.lr_schedule,
                "grad_clip": self.grad_clip, "selection": self.selection}
        defaults = {"weight": rec["weight"] if rec["weight"] is not None else 1.0, **rec["optimizer"],
                    "selection": rec["selection"]}
        for k, v in user.items():
            out[k] = defaults[k] if v is None else v
            out["from"][k] = "user" if v is not None else f"recipe of {method or 'a custom loss'}"
        return out

    def _config(self, recipe: dict) -> TrainConfig:
        if self.selection == "oracle":
            raise ValueError("selection='oracle' needs labelled target validation data, which fit() does "
                             "not take; use da.transfer.finetune with a da.data.Split")
        return TrainConfig.from_kwargs(
            epochs=self.epochs, batch_size=self.batch_size, lr=recipe["lr"], optimizer=recipe["optimizer"],
            weight_decay=self.weight_decay, lr_schedule=recipe["lr_schedule"], horizon=self.horizon,
            grad_clip=recipe["grad_clip"], patience=self.patience, selection=recipe["selection"],
            val_fraction=self.val_fraction, device=self.device, seed=self.seed)

    def _terms(self, recipe: dict):
        a = self.align
        if a is None:
            return None
        if isinstance(a, (str, torch.nn.Module)):
            return [(copy.deepcopy(a), recipe["weight"])]
        return copy.deepcopy(a)  # a list of terms (or one pair); never train the user's modules

    def fit(self, Xs, ys, Xt, yt_labeled=None, labeled_idx=None):
        """Fit on labelled source ``(Xs, ys)`` and unlabelled target ``Xt``.

        Parameters
        ----------
        Xs : array or tensor of shape (n_s, ...)
        ys : array of shape (n_s,)
            Any class labels (encoded to ``classes_``).
        Xt : array or tensor of shape (n_t, ...)
        yt_labeled : array, optional
            Labels of the few labelled target rows ``Xt[labeled_idx]``.
        labeled_idx : array of int, optional

        Returns
        -------
        self
        """
        is_auto = isinstance(self.align, str) and self.align == "auto"
        if self.auto_params is not None:
            from da.transfer.auto_options import check_auto_params

            check_auto_params(self.auto_params, is_auto)
        if is_auto:
            from da.transfer.auto import fit_auto

            return fit_auto(self, Xs, ys, Xt, yt_labeled=yt_labeled, labeled_idx=labeled_idx,
                            **(self.auto_params or {}))
        recipe = self._recipe()
        if self.weight is not None:
            check_weight(self.weight, "weight")
        cfg = self._config(recipe)
        Xs = check_array(Xs, "Xs", ndim=None, min_samples=2)
        check_not_constant(Xs, "Xs", why="no class can be learned from it")
        # alignment losses compare two distinct target samples at least (a covariance, a U-statistic)
        Xt = check_array(Xt, "Xt", ndim=None, min_samples=1 if self.align is not None else 0)
        if self.align is not None:
            check_alignment_target(Xt)
        ys = np.asarray(ys.detach().cpu() if isinstance(ys, torch.Tensor) else ys)
        if ys.ndim != 1 or ys.shape[0] != Xs.shape[0]:
            raise ValueError(f"ys must be 1-D with {Xs.shape[0]} labels, got shape {ys.shape}")
        yl = None
        if yt_labeled is not None:
            yl = np.asarray(yt_labeled.detach().cpu() if isinstance(yt_labeled, torch.Tensor) else yt_labeled)
        self.classes_ = np.unique(ys if yl is None else np.concatenate([ys, yl]))
        enc = lambda y: np.searchsorted(self.classes_, y)  # noqa: E731
        ys_enc = check_labels(enc(ys), "ys")
        yl_enc = None if yl is None else check_labels(enc(yl), "yt_labeled")
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(f"ys must hold at least 2 classes, got {self.classes_}")
        self.n_features_in_ = int(np.prod(Xs.shape[1:]))
        model = self._initial_model(Xs, n_classes)
        split = make_split(Xs, ys_enc, Xt, yt_labeled=yl_enc, labeled_idx=labeled_idx,
                           val_fraction=cfg.val_fraction, seed=self.seed, n_classes=n_classes)
        self.recipe_ = _json_recipe(recipe)
        trainer = Trainer(cfg, self._terms(recipe), self.strategy, run_dir=None, verbose=self.verbose,
                          tags={"estimator": type(self).__name__, "recipe": self.recipe_})
        self.result_ = trainer.fit(model, split)
        self.model_ = self.result_.model
        self.history_ = self.result_.history
        self.selection_ = self.result_.selection
        return self

    def _initial_model(self, Xs, n_classes: int) -> FeaturizerHead:
        """The untrained network a fit starts from: the seeded default MLP, or copies of the given modules."""
        if self.featurizer is None and self.head is None:
            featurizer, head = mlp(int(np.prod(Xs.shape[1:])), tuple(self.hidden), n_classes, seed=self.seed)
        elif self.featurizer is not None and self.head is not None:
            featurizer, head = copy.deepcopy(self.featurizer), copy.deepcopy(self.head)
        elif self.featurizer is not None:
            featurizer = copy.deepcopy(self.featurizer)
            from da.transfer._rng import seeded
            from da.transfer.models import feature_dim

            d = feature_dim(featurizer, torch.as_tensor(Xs[:2]))
            with seeded(self.seed):
                head = torch.nn.Linear(d, n_classes)
        else:
            raise ValueError("head given without featurizer; pass both, or a featurizer only")
        return FeaturizerHead(featurizer, head)

    def _forward(self, X, what: str):
        check_is_fitted(self, "model_")
        X = check_array(X, "X", ndim=None)
        if int(np.prod(X.shape[1:])) != self.n_features_in_:
            raise ValueError(f"X has {int(np.prod(X.shape[1:]))} features, but the classifier was fitted "
                             f"with {self.n_features_in_} (shape {X.shape})")
        from da.transfer.evaluate import predict_outputs

        return predict_outputs(self.model_, X, features=(what == "features"))

    def decision_function(self, X) -> np.ndarray:
        """Logits, shape (n, n_classes)."""
        return self._forward(X, "logits")["logits"]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits), shape (n, n_classes)."""
        return softmax(self.decision_function(X).astype(np.float64), axis=1)

    def predict(self, X) -> np.ndarray:
        """Predicted labels (from ``classes_``)."""
        scores = self.decision_function(X)
        return self.classes_[scores.argmax(1)]

    def transform(self, X) -> np.ndarray:
        """The learned features ``featurizer(X)``, shape (n, d)."""
        return self._forward(X, "features")["features"]


def _json_recipe(recipe: dict) -> dict:
    """The resolved recipe as JSON values (a callable weight becomes its name)."""
    out = dict(recipe)
    w = out["weight"]
    out["weight"] = w if isinstance(w, (int, float, str)) or w is None else getattr(w, "__name__", repr(w))
    return {k: (_json_value(v) if k != "from" else dict(v)) for k, v in out.items()}
