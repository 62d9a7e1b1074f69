"""The methods' own recipes: the weight, optimizer and epoch selection that a method trains under where
the user left them unset (``DomainAdaptationClassifier(weight=None, optimizer=None, selection=None)``,
and ``recipe: true`` in a config), and the method a loss or a combination of losses stands for."""

from __future__ import annotations

import copy

from da._names import LOSS_CLASSES

__all__ = ["METHOD_RECIPES", "COMBINATIONS", "method_of", "method_of_terms", "method_recipe"]


#: The method's own recipe: the weight of its term, the optimizer that trains it and the criterion that
#: picks its epoch, used where the user left them unset (``DomainAdaptationClassifier(weight=None,
#: optimizer=None, selection=None)``). Chosen on the generated benchmark of ``benchmarks/defaults``
#: (docs/defaults.md). ``"optimizer"`` entries are :class:`~da.transfer.TrainConfig` fields;
#: ``"selection"`` a criterion of :mod:`da.transfer.selection` (label-free: no target labels).
_ADAM = {"optimizer": "adam", "lr": 1e-3, "lr_schedule": "constant", "grad_clip": None}
#: SGD with momentum 0.9 (TrainConfig's default) and Ganin & Lempitsky's annealing of the learning rate, the
#: global gradient norm clipped at 100 (revision 9): a bound above every norm of the benchmark's converged runs
#: (at most 66), crossed only where the game explodes (DANN on inverted digits: 1 -> 1e10 in 50 steps, then NaN).
#: A clip that never binds multiplies the gradients by exactly 1, so the other runs are bit for bit unchanged.
_SGD_GANIN = {"optimizer": "sgd", "lr": 0.1, "lr_schedule": "ganin", "grad_clip": 100.0}
METHOD_RECIPES = {
    "source_only": {"weight": None, "optimizer": dict(_ADAM), "selection": "source_val"},
    # source_val_loss (rev. 6): held-out source accuracy ties on a few hundred rows and the first tie won
    "mmd": {"weight": 10.0, "optimizer": dict(_ADAM), "selection": "source_val_loss"},
    "dann": {"weight": 1.0, "optimizer": dict(_SGD_GANIN), "selection": "source_val_loss"},
    # rev. 7: the source loss alone kept epochs whose target rows had piled onto one class (docs/defaults.md)
    "cdan": {"weight": 1.0, "optimizer": dict(_SGD_GANIN), "selection": "source_val_drift"},
    "jdot": {"weight": 1.0, "optimizer": dict(_ADAM), "selection": "source_val"},
    # Deep CORAL's 1/(4 d^2) makes ||C_s - C_t||_F^2 tiny on wide features: 3e4 / (4 * 128^2) ~ 0.46 at d = 128
    "coral": {"weight": 30000.0, "optimizer": dict(_ADAM), "selection": "source_val_loss"},
    # S_eps is in squared feature distances and, with eps relative to them, S(cx, cy) = c^2 S(x, y): at weight 1
    # shrinking every feature was the cheapest descent (dead ReLUs, collapsed digits features) until revision 8
    # divided it by the mean squared distance, in the graph (normalize=True): scale-free, weight 1 again
    "sinkhorn": {"weight": 1.0, "optimizer": dict(_ADAM), "selection": "source_val"},
    "swd": {"weight": 1.0, "optimizer": dict(_ADAM), "selection": "source_val_loss"},
    # rev. 10, stage 17: weights 0.3-10 under both source criteria; 2 with the source loss's epoch gained most
    # (accuracy's epoch: at most +0.049), and it gained in the long regime too (docs/defaults.md)
    "infomax": {"weight": 2.0, "optimizer": dict(_ADAM), "selection": "source_val_loss"},
    # rev. 11, stage 18: a combination (COMBINATIONS); its weight multiplies each term's
    "infomax_coral": {"weight": 1.0, "optimizer": dict(_ADAM), "selection": "source_val_loss"},
}

#: Methods that are a sum of losses: method -> its ``(loss, weight)`` terms, each weight multiplied by the
#: method's weight (the recipe's 1, or the user's number). ``infomax_coral`` (rev. 11, stage 18): infomax at its
#: recipe weight with CORAL beside it at a third of CORAL's; matching the second moments keeps entropy
#: minimisation from committing each target class to the wrong source neighbour (docs/defaults.md).
COMBINATIONS = {"infomax_coral": (("infomax", 2.0), ("coral", 10000.0))}

# loss class -> method name, for recipes of losses given as modules
_CLASS_TO_METHOD = {cls: name for name, cls in LOSS_CLASSES.items()}


def method_of(loss) -> str | None:
    """The method name of a loss given by name or as a :mod:`da.align` module (None if unknown)."""
    if loss is None:
        return "source_only"
    if isinstance(loss, str):
        return loss if loss in METHOD_RECIPES else None
    return _CLASS_TO_METHOD.get(type(loss).__name__)


def method_of_terms(methods: list) -> str | None:
    """The method whose recipe a combination of losses (their method names) trains under: the first
    adversarial one, whose game needs its optimizer; else the only one; else the :data:`COMBINATIONS`
    method of exactly these losses (None for any other set)."""
    adversarial = [m for m in methods if m in ("dann", "cdan")]
    if adversarial or len(methods) == 1:
        return adversarial[0] if adversarial else methods[0]
    same = [c for c, terms in COMBINATIONS.items() if sorted(t for t, _ in terms) == sorted(map(str, methods))]
    return same[0] if same else None


def method_recipe(name: str | None) -> dict:
    """The recipe of method ``name`` (``None``: source only): its weight, optimizer and epoch selection.

    A copy of :data:`METHOD_RECIPES` ``[name]``; unknown names (custom losses)
    get weight 1, Adam at 1e-3 (no gradient clipping) and source-validation accuracy's epoch.

    Examples
    --------
    >>> method_recipe(None)["optimizer"]["optimizer"]
    'adam'
    """
    key = "source_only" if name is None else name
    rec = METHOD_RECIPES.get(key, {**METHOD_RECIPES["source_only"], "weight": 1.0})
    return copy.deepcopy(rec)
