"""Training settings, declared once: :class:`TrainConfig`.

Each field carries its constraint (a :mod:`da._schema` leaf) and its documentation.
:meth:`TrainConfig.validate` checks every field with that leaf, and the YAML
``train:`` and ``pretrain:`` sections of :mod:`da.experiments.config` are derived
from the same fields (:func:`yaml_section`), so a default or a range cannot
disagree between Python and YAML, and every field is reachable from both.
"""

from __future__ import annotations

import copy
from dataclasses import MISSING, asdict, dataclass, field, fields

from da._names import LR_SCHEDULES, OPTIMIZERS, SAMPLINGS, canonical
from da._sinks import LOGGERS
from da._schema import Bool, ConfigError, Custom, ListOf, Num, Str

__all__ = ["TrainConfig", "MEMORISED_SOURCE_CE", "memorised_source_message", "adversarial_under_adam",
           "PRECISIONS", "LOGGERS", "yaml_section"]

#: Epoch-mean source cross-entropy below which an adversarial loss under Adam gets a
#: warning: the source is memorised (digits->MNIST under Adam: 0.01-0.03, where DANN did
#: not align; MNIST->digits: 0.12-0.15, where it did; docs/reproductions.md, section 2).
MEMORISED_SOURCE_CE = 0.05


def adversarial_under_adam(config, terms) -> bool:
    """An adversarial loss (one with a discriminator) trained by Adam or AdamW on a labelled source."""
    return config.optimizer in ("adam", "adamw") and config.source_weight > 0 and any(
        hasattr(t.loss, "discriminator") for t in terms)


def memorised_source_message(epoch: int, ce: float, optimizer: str) -> str:
    """The warning of an adversarial loss under Adam/AdamW once the source CE is below :data:`MEMORISED_SOURCE_CE`."""
    return (f"epoch {epoch}: the source cross-entropy is {ce:.3g} (< {MEMORISED_SOURCE_CE}) with an adversarial "
            f"loss under optimizer={optimizer!r}: the source is memorised, the features get almost only the "
            "reversed discriminator gradient, which Adam rescales to full-size steps; on digits->MNIST this "
            "stopped DANN and CDAN from aligning, and optimizer='sgd' fixed it (see da.align.DANNLoss, Notes)")


#: ``precision``: float32, bfloat16 autocast, float16 autocast with a gradient scaler.
PRECISIONS = ("32", "bf16", "16")


def _criterion(value, path):
    from da.transfer.selection import get_criterion

    if not (callable(value) and not isinstance(value, str)):
        value = canonical("criterion", value)
    get_criterion(value)  # its error lists the criteria
    return value


def _criteria(value, path):
    from da.transfer.selection import get_criterion

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(path, f"record_criteria holds criterion names, got {value!r}")
    for v in value:
        if not isinstance(v, str):
            raise ConfigError(path, f"record_criteria holds criterion names, got {v!r}")
        get_criterion(v)
    return list(value)


def _device(value, path):
    if value is None:
        return None
    if not isinstance(value, str) and type(value).__name__ == "device":  # a torch.device
        return str(value)
    return Str(None).check(value, path)


def _fraction(value, path):
    value = Num(None).check(value, path)
    if not 0 < value < 1:
        raise ConfigError(path, f"val_fraction must be in (0, 1), got {value!r}")
    return value


def _precision(value, path):
    return Str(None, choices=PRECISIONS).check(str(value) if isinstance(value, int) else value, path)


def _loggers(value, path):
    return ListOf(Str(None, choices=LOGGERS), None).check(value, path)


def _spec(default, leaf, doc: str):
    """A dataclass field whose constraint and doc are data (read by validate and the YAML schema)."""
    leaf.default, leaf.doc = default, doc
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"leaf": leaf})
    return field(default=default, metadata={"leaf": leaf})


def _int(lo=1, optional=False):
    return Num(None, lo=lo, integer=True, optional=optional)


def _num(lo=0.0, lo_open=False, hi=None, optional=False):
    return Num(None, lo=lo, lo_open=lo_open, hi=hi, optional=optional)


@dataclass
class TrainConfig:
    """Everything the training loop needs; recorded, resolved, with each run.

    Every field below is also a key of the YAML ``train:`` and ``pretrain:`` sections
    (``da run --show-defaults`` lists them with these docs), except ``seed``, which
    comes from the config's top-level ``seed``.

    For adversarial losses (DANN, CDAN) on a source small enough to be memorised,
    prefer ``optimizer="sgd"``: see the optimizer note of :class:`da.align.DANNLoss`.
    The loop warns (once) when an adversarial loss runs under Adam/AdamW and the
    epoch-mean source cross-entropy falls below :data:`MEMORISED_SOURCE_CE`.
    """

    epochs: int = _spec(30, _int(), "passes over the larger active stream (source, unlabelled "
                                        "target or labelled target); the smaller ones are cycled")
    batch_size: int = _spec(128, _int(), "source minibatch size (the global batch of a distributed run, "
                                         "split evenly over the processes)")
    batch_size_target: int | None = _spec(None, _int(optional=True),
                                          "unlabelled-target minibatch size (null: batch_size)")
    batch_size_labeled: int | None = _spec(None, _int(optional=True),
                                           "labelled-target minibatch size (null: batch_size), "
                                           "capped at the number of labelled target samples")
    source_sampling: str = _spec("shuffle", Str(None, choices=SAMPLINGS),
                                 "order of the labelled-source rows in an epoch: shuffle (fresh "
                                 "permutations), stored (their stored order, cycled, from row 0 each "
                                 "epoch) or replacement (uniform draws with replacement)")
    target_sampling: str = _spec("shuffle", Str(None, choices=SAMPLINGS),
                                 "order of the unlabelled-target rows: shuffle, stored or replacement "
                                 "(the sample-wise SGD of Ganin et al. 2016: source stored, target "
                                 "replacement)")
    lr: float = _spec(1e-3, _num(lo_open=True), "learning rate")
    optimizer: str = _spec("adam", Str(None, choices=OPTIMIZERS), "one optimizer for every group")
    momentum: float = _spec(0.9, _num(hi=1.0), "SGD momentum")
    nesterov: bool = _spec(False, Bool(None), "SGD Nesterov momentum")
    weight_decay: float = _spec(0.0, _num(), "L2 weight decay")
    lr_schedule: str = _spec("constant", Str(None, choices=LR_SCHEDULES),
                             "learning-rate multiplier of the progress p (ganin: (1+10p)^-0.75)")
    steps_per_epoch: int | None = _spec(None, _int(optional=True),
                                        "epoch length in steps (null: one pass over the larger stream)")
    horizon: int | None = _spec(None, _int(optional=True),
                                "steps over which p goes 0 -> 1 (null: epochs x steps per epoch)")
    discriminator_lr_factor: float = _spec(1.0, _num(), "discriminators' lr = lr x this")
    backbone_lr_factor: float | None = _spec(None, _num(optional=True),
                                             "a named backbone's lr = lr x this, its new layers (bottleneck, "
                                             "head) at lr (null: 0.1 with pretrained weights, else 1)")
    source_weight: float = _spec(1.0, _num(), "weight of the labelled-source cross-entropy")
    target_weight: float = _spec(1.0, _num(), "weight of the labelled-target cross-entropy")
    grad_clip: float | None = _spec(None, _num(lo_open=True, optional=True),
                                    "clip the global gradient norm (null: no clipping)")
    amp: bool = _spec(False, Bool(None), "deprecated (use precision): with precision 32, autocast on "
                                         "CUDA, bfloat16 where supported, else float16 with a scaler")
    precision: str = _spec("32", Custom(None, _precision), "32 | bf16 | 16: bf16/16 run the forward "
                                                          "under torch.autocast on any device (16 with "
                                                          "a GradScaler on CUDA)")
    channels_last: bool = _spec(True, Bool(None), "on CUDA: the model and image batches in channels-last "
                                                  "memory format (off on the CPU)")
    compile: bool = _spec(False, Bool(None), "torch.compile the training forward")
    device: str | None = _spec(None, Custom(None, _device),
                               "torch device (null: cuda when available, else cpu)")
    seed: int = _spec(0, _int(lo=0), "seeds minibatch order, dropout and head re-initialisation")
    selection: str = _spec("source_val", Custom(None, _criterion),
                           "model-selection criterion (da.transfer.CRITERIA); oracle reads target labels")
    patience: int | None = _spec(None, _int(optional=True),
                                 "stop after this many evaluations without improvement")
    eval_every: int = _spec(1, _int(), "score the selection criterion every k epochs")
    log_every: int = _spec(10, _int(lo=0), "keep a per-step record every k steps (0: none)")
    max_eval_samples: int = _spec(2000, _int(), "cap on the training parts scored for selection")
    record_criteria: tuple = _spec((), Custom(None, _criteria),
                                   "further criteria scored and recorded at every evaluation, so that "
                                   "selection can be redone from the records")
    val_fraction: float = _spec(0.1, Custom(None, _fraction),
                                "source validation fraction when data are given as arrays")
    checkpoint: bool = _spec(True, Bool(None), "save the selected weights with the run's records")
    resume: bool = _spec(True, Bool(None), "restart a killed training from its last epoch (model, "
                                           "optimizer, RNG and stream state in resume.pt: <run_dir>/resume/ "
                                           "under da run / da sweep, _cache/pretrain/<key>.resume/ for "
                                           "pretraining, or the run_dir / resume_dir given in Python)")
    loggers: tuple = _spec(("jsonl",), Custom(None, _loggers),
                           "record sinks: jsonl, tensorboard, mlflow")
    sync_bn: bool = _spec(False, Bool(None), "distributed runs: synchronise BatchNorm statistics over "
                                             "the processes (torch.nn.SyncBatchNorm, CUDA only)")
    gather_features: bool = _spec(False, Bool(None), "distributed runs: evaluate the kernel, moment, OT and "
                                                     "infomax losses on the features (infomax: the logits) "
                                                     "of the global batch, gathered "
                                                     "from all processes (default: per-process minibatch "
                                                     "losses, averaged)")

    def validate(self) -> "TrainConfig":
        """Check every field against its leaf; raises a ValueError naming the field."""
        if isinstance(self.optimizer, str):
            self.optimizer = canonical("optimizer", self.optimizer)
        for f in fields(self):
            value = f.metadata["leaf"].check(getattr(self, f.name), f.name)
            setattr(self, f.name, tuple(value) if f.name in _TUPLES else value)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_kwargs(cls, config=None, **overrides) -> "TrainConfig":
        """A validated config from a TrainConfig, a dict or None, with field overrides."""
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; valid: {sorted(names)}")
        if config is None:
            base = cls()
        elif isinstance(config, cls):
            base = copy.copy(config)
        elif isinstance(config, dict):
            bad = set(config) - names
            if bad:
                raise ValueError(f"unknown config keys {sorted(bad)}; valid: {sorted(names)}")
            base = cls(**config)
        else:
            raise ValueError(f"config must be a TrainConfig, a dict or None, got {type(config).__name__}")
        for k, v in overrides.items():
            setattr(base, k, v)
        return base.validate()


_TUPLES = ("record_criteria", "loggers")
#: fields a YAML section does not hold: ``seed`` is the config's top-level seed.
_NOT_IN_YAML = ("seed",)


def yaml_section(**defaults) -> dict:
    """The YAML schema of a ``train:``/``pretrain:`` section: one leaf per TrainConfig field.

    ``defaults`` override the dataclass defaults for this section (e.g. the
    pretraining stage's ``selection``); their ranges stay the field's.
    """
    out = {}
    for f in fields(TrainConfig):
        if f.name in _NOT_IN_YAML:
            continue
        leaf = copy.copy(f.metadata["leaf"])
        default = f.default if f.default is not MISSING else f.default_factory()
        leaf.default = defaults.get(f.name, default)
        if isinstance(leaf.default, tuple):
            leaf.default = list(leaf.default)
        out[f.name] = leaf
    return out
