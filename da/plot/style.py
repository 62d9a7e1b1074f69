"""The one colour palette, marker set and axis labels shared by every ``da`` figure.

Colours are the Okabe–Ito palette [1]_, distinguishable under the common
forms of colour-vision deficiency and in greyscale print. A quantity keeps its
colour across figures: source is always blue, target always vermillion, a
method always the same colour wherever it appears.

References
----------
.. [1] M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures
   and presentations that are friendly to colorblind people", 2008.
   https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

__all__ = ["OKABE_ITO", "PALETTE", "DOMAIN_COLORS", "PHASE_COLORS", "TRUTH_COLOR", "MARKERS",
           "METRIC_LABELS", "colors_for", "metric_label"]

#: The eight Okabe–Ito colours by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Cycle order for categorical series (lines, bars). Yellow comes last: it is
#: faint on white. Black is kept for analytic ground truth.
PALETTE = tuple(OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                       "reddish_purple", "sky_blue", "yellow"))

DOMAIN_COLORS = {"source": OKABE_ITO["blue"], "target": OKABE_ITO["vermillion"]}
PHASE_COLORS = {"before": OKABE_ITO["orange"], "after": OKABE_ITO["blue"]}
TRUTH_COLOR = OKABE_ITO["black"]

#: One marker per class (filled shapes that stay readable at small sizes).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")

# Methods (da.experiments.config.METHODS) and baselines (da.transfer.baselines) get a fixed
# colour, so "dann" is the same green in a severity plot, an ablation and a learning curve.
_FIXED = {
    "source_only": OKABE_ITO["black"], "scratch": OKABE_ITO["black"],
    "finetune_no_align": OKABE_ITO["sky_blue"],
    "mmd": OKABE_ITO["blue"],
    "dann": OKABE_ITO["bluish_green"],
    "deepjdot": OKABE_ITO["vermillion"],
    "coral": OKABE_ITO["orange"],
    "cdan": OKABE_ITO["reddish_purple"],
}

#: Axis labels, with units, for the quantities ``da`` records (gap metrics, loss
#: statistics, analytic ground truth, accuracies). Gap statistics are dimensionless;
#: the brackets say so, and give the range where it is fixed.
METRIC_LABELS = {
    "mmd2": "MMD² (dimensionless)",
    "proxy_a_distance": "proxy A-distance (0–2)",
    "energy_distance": "energy distance (feature units)",
    "coral_distance": "CORAL distance (squared feature units)",
    "wasserstein": "Wasserstein distance (feature units)",
    "sliced_wasserstein": "sliced W₂ (feature units)",
    "disc_acc": "domain-discriminator accuracy (fraction)",
    "w2_per_class": "W₂ per class (feature units)",
    "kl_joint": "KL(P_T ‖ P_S) (nats)",
    "prior_tv": "prior total variation (0–1)",
    "lambda": "λ, alignment weight (dimensionless)",
    # target accuracies read target labels: evaluation only, an oracle quantity
    "target_acc": "target accuracy (oracle; fraction)",
    "target_test_acc": "target test accuracy (oracle; fraction)",
    "target_val_acc": "target validation accuracy (oracle; fraction)",
    "source_test_acc": "source test accuracy (fraction)",
    "loss": "loss (nats)",
}


def metric_label(name: str) -> str:
    """Axis label with units for a metric name; unknown names get ``"(as recorded)"``."""
    key = str(name)
    if key in METRIC_LABELS:
        return METRIC_LABELS[key]
    low = key.lower()
    if "acc" in low:
        return f"{key} (fraction)"
    if "loss" in low:
        return f"{key} (nats)"
    return f"{key} (as recorded)"


def colors_for(labels) -> dict:
    """Map each label to a palette colour, stable across figures.

    Known method and baseline names (``"dann"``, ``"mmd"``, ``"scratch"``, ...)
    always get the same colour; other labels take the remaining palette colours
    in order of first appearance, cycling when there are more labels than colours.

    Examples
    --------
    >>> colors_for(["dann", "my_method"])["dann"] == colors_for(["dann"])["dann"]
    True
    """
    out, used = {}, set()
    labels = list(dict.fromkeys(labels))
    for lab in labels:
        c = _FIXED.get(str(lab))
        if c is not None and c not in used:
            out[lab] = c
            used.add(c)
    free = [c for c in PALETTE if c not in used] or list(PALETTE)
    i = 0
    for lab in labels:
        if lab not in out:
            out[lab] = free[i % len(free)]
            i += 1
    return out
