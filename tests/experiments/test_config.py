"""Configs: validation names the key path, overrides, sweep expansion, stable run ids."""

import copy
from pathlib import Path

import pytest

from da.experiments.config import (RECIPE_KEYS, SCHEMA, ConfigError, apply_overrides, defaults, expand_sweep,
                                   load_config, parse_override, pretrain_key, resolve_config, run_id)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))


def _err(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_config(cfg)
    return str(info.value)


@pytest.mark.parametrize("patch, expected", [
    ({"align": [{"loss": "mmd"}, {"loss": "dann", "weight": "often"}]},
     "align[1].weight: expected a number or a schedule"),
    ({"align": [{"loss": "mmd", "weight": {"schedule": "ganin", "gamma": -1}}]},
     "align[0].weight.gamma: must be > 0"),
    ({"align": [{"loss": "mmd", "weight": {"schedule": "ganin", "slope": 2}}]},
     "align[0].weight.slope: unknown key for schedule 'ganin'"),
    ({"align": [{"loss": "mmdd"}]}, "align[0].loss: unknown value 'mmdd' (did you mean 'mmd'?)"),
    ({"align": [{"loss": "mmd", "params": {"bandwith": 1.0}}]},
     "align[0].params.bandwith: not a parameter of da.align.MMDLoss (did you mean 'bandwidth'?)"),
    ({"align": [{"loss": "dann", "params": {"seed": 3}}]},
     "align[0].params.seed: the loss is seeded by the config's top-level seed"),
    ({"align": [{"loss": "cdan", "params": {"n_classes": 3}}]}, "align[0].params.n_classes: not a parameter"),
    ({"train": {"epoch": 3}}, "train.epoch: unknown key (did you mean 'epochs'?)"),
    ({"train": {"lr": "fast"}}, "train.lr: expected a number"),
    ({"train": {"epochs": 2.5}}, "train.epochs: expected an integer"),
    ({"train": {"batch_size": 0}}, "train.batch_size: must be >= 1"),
    ({"diagnostics": {"compare": ["inputs", "logits"]}},
     "diagnostics.compare[1]: unknown value 'logits'"),
    ({"data": {"pair": "mnist->digit"}}, "data.pair: unknown value 'mnist->digit' (did you mean 'mnist->digits'?)"),
    ({"data": {"generator": {"shift": "label", "severity": 2.0}}},
     "data.generator.severity: must be in [0, 1] for shift 'label'"),
    ({"method": "danm"}, "method: unknown value 'danm' (did you mean 'dann'?)"),
    ({"lambda": -1}, "lambda: must be >= 0.0"),
    ({"recipe": "yes"}, "recipe: expected true or false, got 'yes'"),
    ({"data": {"pair": "mnist->digits", "generator": {}}}, "data: give exactly one of data.pair"),
    ({"grid": {"seed": [0, 1]}}, "grid: a sweep block"),
    ({"method": "auto", "auto": {"rule": "best"}}, "auto.rule: unknown value 'best'"),
    ({"method": "auto", "auto": {"rule": ["dev", "ensemble"]}}, "auto.rule[1]: unknown value 'ensemble'"),
    ({"method": "auto", "auto": {"rule": []}}, "auto.rule: expected a criterion or a non-empty list"),
    ({"method": "auto", "auto": {"rule": "ensemble_top0:bnm"}}, "auto.rule: spell a top-k ensemble ensemble_topK"),
    ({"method": "auto", "auto": {"rule": "ensemble_top3:acc"}}, "auto.rule (its criterion): unknown value 'acc'"),
    ({"method": "auto", "auto": {"tolerance": -0.1}}, "auto.tolerance: must be >= 0.0"),
    ({"method": "auto", "auto": {"candidate_training": "pretrain"}}, "auto.candidate_training: unknown value"),
    ({"method": "auto", "auto": {"candidates": [{"name": "mmd", "method": "mmd"}]}},
     "auto.candidates: must include {name: source_only, method: null}"),
    ({"method": "auto", "auto": {"candidates": [{"name": "source_only"}, {"name": "x", "method": "mmdd"}]}},
     "auto.candidates[1].method: unknown value 'mmdd' (did you mean 'mmd'?)"),
    ({"method": "auto", "auto": {"candidates": [{"name": "source_only", "weight": 2}]}},
     "auto.candidates[0].weight: a source-only candidate (method: null) has no weight"),
    ({"method": "auto", "auto": {"candidates": [{"name": "source_only"}, {"name": "m", "method": "mmd",
                                                                         "weight": -1}]}},
     "auto.candidates[1].weight: must be >= 0.0"),
    ({"method": "auto", "auto": {"candidates": [{"name": "source_only"}, {"name": "source_only"}]}},
     "auto.candidates: candidate names must be distinct"),
    ({"method": "auto", "auto": {"rule": "ensemble", "candidates": [{"name": "source_only"},
                                                                    {"name": "ensemble", "method": "coral"}]}},
     "auto.candidates: rule 'ensemble' returns its model as 'ensemble'"),
    ({"method": "auto", "auto": {"candidates": [{"name": "source_only"}, {"name": "src2"}]}},
     "auto.candidates: only 'source_only' is trained without alignment"),
    ({"method": "auto", "auto": {"candidate_training": "scratch", "finetune_epochs": 3}},
     "auto.finetune_epochs: is for candidate_training: finetune; scratch does not read it"),
    ({"method": "auto", "train": {"epochs": 1}, "auto": {"candidate_training": "warmup"}},
     "auto.candidate_training: warmup needs train.epochs >= 2"),
])
def test_validation_errors_name_the_key_path(tiny, patch, expected):
    cfg = copy.deepcopy(tiny)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict) and k != "data":
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    assert _err(cfg).startswith(expected), _err(cfg)


def test_defaults_come_from_one_schema_and_resolution_is_idempotent(tiny):
    d = defaults()
    assert set(d) == set(SCHEMA)
    assert d["train"]["epochs"] == SCHEMA["train"]["epochs"].default
    r = resolve_config(tiny)
    assert resolve_config(r) == r
    # the method preset is written out as an explicit align list, at the method's recipe weight
    from da.transfer.losses import METHOD_RECIPES

    assert r["align"] == [{"loss": "mmd", "weight": METHOD_RECIPES["mmd"]["weight"], "params": {}}]


def test_numbers_are_canonical_yaml_exponents_and_ints_included(tiny):
    a = resolve_config(dict(tiny, train={"lr": "1e-3"}))  # YAML 1.1 reads 1e-3 as a string
    b = resolve_config(dict(tiny, train={"lr": 0.001}))
    assert a["train"]["lr"] == 0.001 and run_id(a) == run_id(b)
    assert run_id(dict(tiny, **{"lambda": 1})) == run_id(dict(tiny, **{"lambda": 1.0}))


def test_overrides_parse_yaml_values_and_list_indices(tiny):
    assert parse_override("train.lr=1e-2") == ("train.lr", "1e-2")
    assert parse_override("model.hidden=[4, 4]") == ("model.hidden", [4, 4])
    assert parse_override("data.pair=null") == ("data.pair", None)
    cfg = apply_overrides(dict(tiny, method="dann"),
                          ["align.0.weight={schedule: ganin, max: 0.5}", "align[0].params.hidden=[16]",
                           "train.lr=1e-2", "diagnostics.every=1", "seed=3"])
    r = resolve_config(cfg)
    assert r["align"] == [{"loss": "dann", "weight": {"schedule": "ganin", "max": 0.5, "gamma": 10.0},
                           "params": {"hidden": [16]}}]
    assert r["train"]["lr"] == 0.01 and r["diagnostics"]["every"] == 1 and r["seed"] == 3
    # appending one past the end works; further is an error naming the path
    r = resolve_config(apply_overrides(tiny, ["align.1={loss: coral, weight: 0.1}", "method=custom"]))
    assert [a["loss"] for a in r["align"]] == ["mmd", "coral"]
    with pytest.raises(ConfigError, match=r"align\[5\]: index out of range"):
        apply_overrides(tiny, ["align.5.weight=1"])
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides(tiny, ["train.lr"])


def test_load_config_reads_yaml_and_applies_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("method: coral\ndata: {generator: {domain: moons}}\ntrain: {epochs: 3}\n")
    raw = load_config(p, ["train.epochs=5"])
    assert raw["train"]["epochs"] == 5
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    p.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(p)


def test_sweep_expansion_grid_times_zip_and_errors(tiny):
    raw = dict(tiny, grid={"method": ["mmd", "dann"], "seed": [0, 1, 2]},
               zip={"lambda": [0.1, 1.0], "train.lr": [1e-3, 1e-2]})
    cfgs = expand_sweep(raw)
    assert len(cfgs) == 2 * 3 * 2
    assert {(c["lambda"], c["train"]["lr"]) for c in cfgs} == {(0.1, 1e-3), (1.0, 1e-2)}
    assert len({run_id(c) for c in cfgs}) == 12
    with pytest.raises(ConfigError, match="zipped lists must have the same length"):
        expand_sweep(dict(tiny, zip={"seed": [0, 1], "lambda": [1.0]}))
    with pytest.raises(ConfigError, match=r"grid.seed: expected a non-empty list"):
        expand_sweep(dict(tiny, grid={"seed": 3}))
    with pytest.raises(ConfigError, match=r"train.lr: expected a number.*sweep point"):
        expand_sweep(dict(tiny, grid={"train.lr": [0.1, "fast"]}))
    # points that resolve to the same config are run once
    assert len(expand_sweep(dict(tiny, grid={"lambda": [1, 1.0]}))) == 1


def test_run_ids_are_stable_across_key_order_sweeps_and_labels(tiny):
    rid = run_id(dict(tiny, seed=1, method="dann"))
    reordered = {k: tiny[k] for k in reversed(list(tiny))}
    reordered["data"] = {k: tiny["data"][k] for k in reversed(list(tiny["data"]))}
    assert run_id(dict(reordered, method="dann", seed=1)) == rid
    # the same point reached by two different sweeps (and orders) gets the same id
    a = expand_sweep(dict(tiny, grid={"seed": [2, 1, 0], "method": ["coral", "dann"]}))
    b = expand_sweep(dict(tiny, zip={"method": ["dann", "mmd"], "seed": [1, 5]}))
    ids_a, ids_b = {run_id(c) for c in a}, {run_id(c) for c in b}
    assert rid in ids_a and rid in ids_b
    # the explicit align list of the preset is the same config as the preset
    assert run_id(dict(tiny, seed=1, method="dann", align=[{"loss": "dann"}])) == rid
    # name and output label and file a run; they do not change what it computes
    assert run_id(dict(tiny, seed=1, method="dann", name="other", output="/elsewhere")) == rid
    assert run_id(dict(tiny, seed=1, method="dann", train={"epochs": 3})) != rid
    # the id is a pure function of the config: a fixed value guards against accidental changes
    assert len(rid) == 12 and all(c in "0123456789abcdef" for c in rid)


def test_pretrain_key_ignores_what_pretraining_does_not_see(tiny):
    k = pretrain_key(tiny)
    assert pretrain_key(dict(tiny, method="dann", **{"lambda": 0.1}, train={"epochs": 9})) == k
    assert pretrain_key(dict(tiny, seed=1)) != k
    assert pretrain_key(dict(tiny, pretrain={"epochs": 3})) != k


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_config_validates(path):
    cfgs = expand_sweep(load_config(path))
    assert cfgs and len({run_id(c) for c in cfgs}) == len(cfgs)


def test_the_shipped_configs_are_there():
    names = {p.name for p in SHIPPED}
    assert {"quickstart.yaml", "ablation_lambda.yaml", "shift_severity.yaml", "dann_moons.yaml",
            "label_shift.yaml"} <= names


def test_an_explicit_align_list_must_match_the_method_label(tiny):
    assert "method 'source_only' means align losses []" in _err(
        dict(tiny, method="source_only", align=[{"loss": "dann"}]))
    r = resolve_config(dict(tiny, method="custom", align=[{"loss": "dann"}, {"loss": "mmd"}]))
    assert [a["loss"] for a in r["align"]] == ["dann", "mmd"]


def _recipe_part(cfg: dict) -> dict:
    return {k: cfg["train"][k] for k in RECIPE_KEYS}


@pytest.mark.parametrize("method, align", [
    ("source_only", None), ("mmd", None), ("dann", None), ("cdan", None), ("coral", None), ("jdot", None),
    ("sinkhorn", None), ("swd", None), ("jan", None), ("infomax", None), ("infomax_coral", None),
    ("custom", ["mmd", "cdan"]), ("custom", ["mmd", "coral"]), ("custom", ["coral"]),
    ("custom", ["coral", "infomax"]),
])
def test_recipe_true_trains_a_method_as_the_one_liner_does(tiny, method, align):
    """``recipe: true`` fills what the config leaves out of ``train`` with the values that
    ``DomainAdaptationClassifier(align=...)`` resolves for the same losses (its own resolution: the
    reference), an adversarial loss's recipe winning in a combination."""
    from da import DomainAdaptationClassifier

    cfg = dict(tiny, method=method, recipe=True, train={"epochs": 2})
    if align:
        cfg["align"] = [{"loss": a} for a in align]
    got = _recipe_part(resolve_config(cfg))
    want = DomainAdaptationClassifier(align=align or (None if method == "source_only" else method))._recipe()
    assert got == {k: want[k] for k in RECIPE_KEYS}
    if method in ("dann", "cdan") or "cdan" in (align or []):
        assert got["optimizer"] == "sgd" and got["lr_schedule"] == "ganin"


def test_recipe_keeps_what_the_config_gives_is_off_by_default_and_is_not_hashed(tiny):
    given = resolve_config(dict(tiny, method="dann", recipe=True, train={"epochs": 2, "lr": 0.01,
                                                                          "selection": "last"}))
    assert _recipe_part(given) == {"optimizer": "sgd", "lr": 0.01, "lr_schedule": "ganin", "grad_clip": 100.0,
                                   "selection": "last"}
    assert resolve_config(given) == given
    off = resolve_config(dict(tiny, method="dann"))
    assert _recipe_part(off) == {k: SCHEMA["train"][k].default for k in RECIPE_KEYS}
    # the flag says where values came from; the run id hashes the values themselves
    assert run_id(dict(tiny, method="dann")) == run_id(dict(tiny, method="dann", recipe=False))
    filled = resolve_config(dict(tiny, method="dann", recipe=True))
    spelled = dict(tiny, method="dann", train={**tiny["train"], **_recipe_part(filled)})
    assert run_id(dict(tiny, method="dann", recipe=True)) == run_id(spelled) != run_id(dict(tiny, method="dann"))


def test_recipe_applies_per_sweep_point_and_after_overrides(tiny):
    raw = dict(tiny, recipe=True, grid={"method": ["source_only", "dann", "cdan"]})
    raw["train"] = {"epochs": 2}
    pts = expand_sweep(raw, overrides=["train.lr=0.05"])
    assert [(p["method"], p["train"]["optimizer"], p["train"]["lr"], p["train"]["selection"]) for p in pts] == [
        ("source_only", "adam", 0.05, "source_val"), ("dann", "sgd", 0.05, "source_val_loss"),
        ("cdan", "sgd", 0.05, "source_val_drift")]


def test_run_ids_of_aligned_runs_follow_the_name_based_defaults(tiny, monkeypatch):
    """Losses named in a config are built with make_alignment's feature-sized defaults, which
    the config does not spell out: changing those rules (their revision) must change the run
    id of every aligned run, so a resumed sweep does not read back runs built with old defaults;
    runs without alignment keep their id."""
    import da.transfer.losses as L

    aligned, plain = dict(tiny, method="dann"), dict(tiny, method="source_only")
    before = run_id(aligned), run_id(plain)
    monkeypatch.setattr(L, "ALIGNMENT_DEFAULTS_REVISION", L.ALIGNMENT_DEFAULTS_REVISION + 1)
    assert run_id(aligned) != before[0]
    assert run_id(plain) == before[1]


def test_alignment_defaults_revision_matches_the_rules():
    """A guard: the rules of alignment_defaults at this revision, on widths either side of the
    256-feature switch. If this fails after changing the defaults, bump
    ALIGNMENT_DEFAULTS_REVISION (and record the new rules here)."""
    from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION, alignment_defaults

    rules = {name: [alignment_defaults(name, d, 10) for d in (2, 64, 128, 255, 256, 2048)]
             for name in ("mmd", "dann", "cdan", "jdot", "coral", "sinkhorn", "swd", "infomax")}
    expected_at = {2: {
        "mmd": [{}] * 6, "jdot": [{}] * 6, "coral": [{}] * 6, "swd": [{}] * 6, "infomax": [{}] * 6,
        "dann": [{"hidden": (100,)}, {"hidden": (100,)}, {"hidden": (128,)}, {"hidden": (255,)}, {}, {}],
        "cdan": [{"hidden": (100,)},
                 {"hidden": (100,), "randomized": True, "random_dim": 100},
                 {"hidden": (128,), "randomized": True, "random_dim": 128},
                 {"hidden": (255,), "randomized": True, "random_dim": 255}, {}, {}],
        "sinkhorn": [{"scale": "median", "tol": 1e-4, "method": "auto"}] * 6}}
    # 3: the generated benchmark (docs/defaults.md) and Sinkhorn solved by da.align.symmetric_sinkhorn
    lap = tuple(2.0 ** k for k in range(-4, 5))
    expected_at[3] = {**expected_at[2], "mmd": [{"kernel": "laplacian", "multipliers": lap}] * 6,
                      "jdot": [{"alpha": 0.03, "lambda_t": 0.1, "scale": "mean"}] * 6,
                      "sinkhorn": [{"scale": "median", "tol": 1e-4, "method": "symmetric"}] * 6}
    # 4: stage 4 of the benchmark: Sinkhorn's relative reg 0.2 (its weight 0.1 is in METHOD_RECIPES)
    expected_at[4] = {**expected_at[3],
                      "sinkhorn": [{"reg": 0.2, "scale": "median", "tol": 1e-4, "method": "symmetric"}] * 6}
    expected_at[5] = expected_at[4]  # 5 changed CORAL's weight only (METHOD_RECIPES)
    # 6: stage 6: dropout 0.5 in CDAN's small discriminator (and the epoch selection, METHOD_RECIPES)
    expected_at[6] = {**expected_at[5], "cdan": [{**r, "dropout": 0.5} if r else r for r in expected_at[5]["cdan"]]}
    expected_at[7] = expected_at[6]  # 7 changed CDAN's epoch selection only (METHOD_RECIPES)
    # 8: stage 8: Sinkhorn's divergence divided by the mean squared feature distance, in the graph
    expected_at[8] = {**expected_at[7], "sinkhorn": [{**r, "normalize": True} for r in expected_at[7]["sinkhorn"]]}
    expected_at[9] = expected_at[8]  # 9 changed the adversarial recipes' gradient clip only (METHOD_RECIPES)
    expected_at[10] = expected_at[9]  # 10 added infomax, whose class defaults are its name's (METHOD_RECIPES)
    expected_at[11] = expected_at[10]  # 11 added infomax_coral, a sum of two names (COMBINATIONS)
    assert rules == expected_at[ALIGNMENT_DEFAULTS_REVISION]


def test_method_recipes_match_the_revision():
    """A guard like the one above for METHOD_RECIPES (the weights and optimizers of the names): if this
    fails after changing a recipe, bump ALIGNMENT_DEFAULTS_REVISION (and record the new recipes here)."""
    from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION, METHOD_RECIPES

    adam, sgd = ("adam", 1e-3, "constant"), ("sgd", 0.1, "ganin")
    at3 = {"source_only": (None, adam), "mmd": (10.0, adam), "dann": (1.0, sgd), "cdan": (1.0, sgd),
           "jdot": (1.0, adam), "coral": (100.0, adam), "sinkhorn": (1.0, adam), "swd": (1.0, adam)}
    expected_at = {3: at3, 4: {**at3, "sinkhorn": (0.1, adam)}}
    expected_at[5] = {**expected_at[4], "coral": (30000.0, adam)}  # stage 5 of the benchmark
    expected_at[6] = expected_at[7] = expected_at[5]  # 6 and 7 changed the epoch selection only (below)
    expected_at[8] = {**expected_at[7], "sinkhorn": (1.0, adam)}  # stage 8: the normalised divergence at weight 1
    expected_at[9] = expected_at[8]  # 9 changed the gradient clip only (below)
    expected_at[10] = {**expected_at[9], "infomax": (2.0, adam)}  # stage 17: a new method, the others unchanged
    # stage 18: a sum of two methods (its weight 1 multiplies its terms', COMBINATIONS, tested below)
    expected_at[11] = {**expected_at[10], "infomax_coral": (1.0, adam)}
    got = {m: (r["weight"], tuple(r["optimizer"][k] for k in ("optimizer", "lr", "lr_schedule")))
           for m, r in METHOD_RECIPES.items()}
    assert got == expected_at[ALIGNMENT_DEFAULTS_REVISION]
    clip_at = {r: dict.fromkeys(METHOD_RECIPES, None) for r in range(3, 9)}
    # 9: stage 10: the adversarial SGD recipes clip the global gradient norm at 100 (above every converged run's)
    clip_at[9] = {**clip_at[8], "dann": 100.0, "cdan": 100.0}
    clip_at[10] = clip_at[9]
    clip_at[11] = {**clip_at[10], "infomax_coral": None}
    assert {m: r["optimizer"]["grad_clip"] for m, r in METHOD_RECIPES.items()} == clip_at[ALIGNMENT_DEFAULTS_REVISION]
    selection_at = {r: dict.fromkeys(METHOD_RECIPES, "source_val") for r in (3, 4, 5)}
    # 6: stage 6 of the benchmark: the held-out source cross-entropy's epoch where it was better on both regimes
    selection_at[6] = {**selection_at[5], **dict.fromkeys(("mmd", "coral", "dann", "cdan", "swd"), "source_val_loss")}
    # 7: stage 7: CDAN's epoch by the source loss with the class-proportion drift penalty (no harm on average in
    # either regime; the source loss alone harmed on the short one)
    selection_at[7] = {**selection_at[6], "cdan": "source_val_drift"}
    selection_at[8] = selection_at[9] = selection_at[7]
    selection_at[10] = {**selection_at[9], "infomax": "source_val_loss"}  # stage 17
    selection_at[11] = {**selection_at[10], "infomax_coral": "source_val_loss"}  # stage 18
    assert {m: r["selection"] for m, r in METHOD_RECIPES.items()} == selection_at[ALIGNMENT_DEFAULTS_REVISION]


def test_combination_terms_match_the_revision():
    """The terms of the sum-of-losses methods, guarded like the recipes above."""
    from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION, COMBINATIONS

    expected_at = {r: {} for r in range(3, 11)}
    expected_at[11] = {"infomax_coral": (("infomax", 2.0), ("coral", 10000.0))}  # stage 18
    assert COMBINATIONS == expected_at[ALIGNMENT_DEFAULTS_REVISION]


def test_auto_candidates_match_the_revision():
    """align="auto"'s default candidates, guarded like the recipes: revision 11 (stage 19) dropped JDOT, which the
    shipped rule chose only in the long-game regime, twice, both harms."""
    from da.transfer.auto import AUTO_CANDIDATES
    from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION

    expected_at = {r: (("source_only", None, None), ("mmd", "mmd", None), ("mmd_x3", "mmd", 30.0), ("swd", "swd", None),
                       ("jdot", "jdot", None)) for r in range(5, 11)}
    expected_at[11] = expected_at[10][:4]
    assert AUTO_CANDIDATES == expected_at[ALIGNMENT_DEFAULTS_REVISION]


def test_a_combination_preset_is_written_out_as_its_terms_and_lambda_scales_each(tiny):
    """``method: infomax_coral`` resolves to its two terms at their weights; the global ``lambda``
    multiplies each term's weight when the losses are built, as for every other preset."""
    from da.align import CORALLoss, InformationMaximizationLoss
    from da.experiments.build import build_losses

    r = resolve_config(dict(tiny, method="infomax_coral", **{"lambda": 0.5}))
    assert [(a["loss"], a["weight"]) for a in r["align"]] == [("infomax", 2.0), ("coral", 10000.0)]
    terms = build_losses(r["align"], r["lambda"], 8, 3, 0)
    assert [type(loss) for _, loss, _ in terms] == [InformationMaximizationLoss, CORALLoss]
    assert [w(0.3) for _, _, w in terms] == [1.0, 5000.0]


def test_the_auto_section_is_hashed_only_for_method_auto_and_matches_the_python_defaults(tiny):
    from da._names import AUTO_POOL_SCORES, AUTO_RULES, AUTO_TRAININGS
    from da.experiments.config import auto_candidates, config_hash
    from da.experiments.schema import SCHEMA
    from da.transfer import auto

    mmd = dict(tiny, method="mmd")
    assert config_hash(resolve_config(mmd)) == config_hash(resolve_config(dict(mmd, auto={"rule": "dev"})))
    a = dict(tiny, method="auto")
    assert config_hash(resolve_config(a)) != config_hash(resolve_config(dict(a, auto={"rule": "dev"})))
    section = resolve_config(a)["auto"]
    assert (section["candidate_training"], section["rule"], section["tolerance"]) == (
        auto.AUTO_CANDIDATE_TRAINING, auto.AUTO_RULE, auto.AUTO_TOLERANCE)
    assert auto_candidates(section) == auto.AUTO_CANDIDATES
    assert auto.CANDIDATE_TRAININGS == AUTO_TRAININGS == SCHEMA["auto"]["candidate_training"].choices
    assert set(AUTO_RULES) == {*auto.RANK_RULES, *auto.ENSEMBLE_RULES}
    assert {*auto.AUTO_CRITERIA, *AUTO_POOL_SCORES} == {"ensv", *auto.MIXVAL_CRITERIA, *auto.AUTO_CRITERIA}
    with pytest.warns(DeprecationWarning, match="'deepjdot' is deprecated"):
        given = resolve_config(dict(a, auto={"rule": ["dev", "iwcv"], "candidates": [
            {"name": "source_only"}, {"name": "j", "method": "deepjdot", "weight": 2}]}))["auto"]
    assert auto_candidates(given) == (("source_only", None, None), ("j", "jdot", 2.0))  # the alias is canonical
    given = resolve_config(dict(a, auto={"candidates": [{"name": "source_only"}, {"name": "ic", "method":
                                                                                   "infomax_coral"}]}))["auto"]
    assert auto_candidates(given) == (("source_only", None, None), ("ic", "infomax_coral", None))  # a sum of losses
    from da.experiments.schema_auto import _AUTO_CRITERIA

    top = resolve_config(dict(a, auto={"rule": "ensemble_top3:bnm"}))["auto"]["rule"]
    for rule in (*AUTO_RULES, *_AUTO_CRITERIA, given["rule"], top):
        auto.check_rule(rule)  # every rule a config accepts, the choice accepts
