"""What a training run returns (:class:`FitResult`) and how it fails (:class:`TrainingDivergedError`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["FitResult", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """A loss term became NaN or infinite.

    Attributes
    ----------
    step : int
        The optimisation step (0-based) at which it happened.
    term : str
        The first non-finite term (``"ce_source"``, ``"dann"``, ...).
    value : float
    checkpoint : Path or None
        The last good checkpoint (end of the last completed epoch), if the run
        writes to a directory. The model is also restored to those weights.
    """

    def __init__(self, step: int, term: str, value: float, checkpoint=None):
        self.step, self.term, self.value, self.checkpoint = step, term, value, checkpoint
        where = f"; last good checkpoint: {checkpoint}" if checkpoint else ""
        super().__init__(f"training diverged at step {step}: loss term {term!r} is {value}{where}")


@dataclass
class FitResult:
    """What a run returns (and, with ``run_dir``, writes to ``result.json``).

    Attributes
    ----------
    model : FeaturizerHead
        With the selected (best-scoring) weights loaded.
    history : list of dict
        One record per epoch.
    steps : list of dict
        One record every ``log_every`` steps.
    config : dict
        The resolved configuration, strategy and loss terms.
    selection : str
    oracle : bool
        True when the criterion read target labels.
    best_epoch : int
    best_score : float
    metrics : dict
        Final metrics of the selected model: ``source_val`` accuracy and, when
        target labels exist (evaluation only), ``target_test`` and ``target_val``
        (accuracy, macro-F1, per-class accuracy, ECE).
    run_id : str
        Hash of the resolved configuration.
    resumed_after_epoch : int or None
        The epoch whose saved state (``resume.pt``) this run continued after, or None when it
        trained from its first epoch.
    """

    model: object
    history: list
    steps: list
    config: dict
    selection: str
    oracle: bool
    best_epoch: int
    best_score: float
    metrics: dict = field(default_factory=dict)
    run_id: str = ""
    n_steps: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    run_dir: str | None = None
    resumed_after_epoch: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("model", "history", "steps")}
