"""Every registry of implementations is keyed by the names of da._names, and nothing else."""

import warnings
from dataclasses import fields

import pytest

import da._names as N


def test_loss_registry_matches_the_align_classes_and_the_config():
    import da.align as A
    from da.experiments.config import LOSSES, METHODS
    from da.transfer.losses import ALIGN_METHODS

    assert set(N.LOSS_CLASSES) == set(N.LOSSES) == set(ALIGN_METHODS) == set(LOSSES)
    for name, cls in N.LOSS_CLASSES.items():
        assert hasattr(A, cls), name
    assert tuple(METHODS) == N.METHODS
    from da.transfer.recipes import COMBINATIONS

    assert tuple(COMBINATIONS) == N.COMBINED_METHODS and set(N.COMBINED_METHODS) < set(N.METHODS)
    assert all(loss in N.LOSSES for terms in COMBINATIONS.values() for loss, _ in terms)
    # every one-loss method preset is named after its loss
    for m, entries in METHODS.items():
        if len(entries) == 1 and m != "jan":
            assert entries[0]["loss"] == m


def test_make_alignment_builds_every_loss_and_records_it_under_its_name():
    import torch

    from da.transfer.losses import as_terms, make_alignment

    for name in N.LOSSES:
        loss = make_alignment(name, in_features=8, n_classes=3, seed=0)
        assert type(loss).__name__ == N.LOSS_CLASSES[name]
        # passing the module and passing the name log the same key
        (by_module,) = as_terms([loss])
        (by_name,) = as_terms(name, in_features=8, n_classes=3)
        assert by_module.name == by_name.name == name
    assert torch.is_tensor(torch.zeros(1))


def test_criteria_strategies_schedules_and_optimizers_registries():
    from da.align.schedules import LR_SCHEDULES
    from da.experiments.schema import SCHEDULES, SCHEMA
    from da.transfer.selection import CRITERIA
    from da.transfer.strategies import STRATEGIES
    from da.transfer.train_config import TrainConfig

    assert tuple(CRITERIA) == N.CRITERIA
    assert tuple(STRATEGIES) == N.STRATEGIES
    assert tuple(LR_SCHEDULES) == N.LR_SCHEDULES
    assert SCHEDULES == N.WEIGHT_SCHEDULES
    assert tuple(SCHEMA["transfer"]["strategy"].choices) == N.STRATEGIES
    assert tuple(SCHEMA["model"]["arch"].choices) == N.ARCHS
    leaves = {f.name: f.metadata["leaf"] for f in fields(TrainConfig)}
    assert tuple(leaves["optimizer"].choices) == N.OPTIMIZERS
    assert tuple(leaves["lr_schedule"].choices) == N.LR_SCHEDULES


@pytest.mark.parametrize("kind, old, new", [("loss", "slicedwasserstein", "swd"), ("method", "deepjdot", "jdot"),
                                            ("loss", "deepjdot", "jdot")])
def test_old_spellings_are_deprecated_aliases(kind, old, new):
    with pytest.warns(DeprecationWarning, match=f"{old!r} is deprecated; use {new!r}"):
        assert N.canonical(kind, old) == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert N.canonical(kind, new) == new  # the name itself is silent
        assert N.canonical(kind, "unknown") == "unknown"  # left to the registry's own error


def test_a_config_with_an_old_spelling_resolves_to_the_new_name():
    from da.experiments.config import resolve_config

    with pytest.warns(DeprecationWarning):
        cfg = resolve_config({"data": {"generator": {}}, "method": "deepjdot"})
    assert cfg["method"] == "jdot" and cfg["align"][0]["loss"] == "jdot"
    with pytest.warns(DeprecationWarning):
        cfg = resolve_config({"data": {"generator": {}}, "method": "custom", "align": ["slicedwasserstein"]})
    assert cfg["align"][0]["loss"] == "swd"
