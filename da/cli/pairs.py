"""``da pairs``: list the offline domain pairs with shapes, class counts and a source-only baseline."""

from __future__ import annotations

from da._lazy import lazy_module

np = lazy_module("numpy")  # `da --help` imports this module; numpy only when the command runs


def add_parser(sub):
    p = sub.add_parser("pairs", help="list the built-in domain pairs, their sizes and source-only gaps")
    p.add_argument("names", nargs="*", help="pair names (default: all)")
    p.add_argument("--no-baseline", action="store_true", help="skip the logistic-regression baseline")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def source_only_baseline(split, seed: int = 0) -> dict:
    """Multinomial logistic regression trained on source train; accuracy on source and target test."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    clf.fit(split.source_train.X, split.source_train.y)
    return {"source_test_acc": float(clf.score(split.source_test.X, split.source_test.y)),
            "target_test_acc": float(clf.score(split.target_test.X, split.eval_labels.test))}


def run(args) -> int:
    from da.datasets import PAIRS, load_pair

    names = args.names or list(PAIRS)
    rows = []
    for name in names:
        pair = load_pair(name)
        split = pair.sample(seed=args.seed)
        row = {"pair": pair.name, "dim": pair.source.dim,
               "shape": "x".join(map(str, pair.source.image_shape or (pair.source.dim,))),
               "n_source": len(pair.source), "n_target": len(pair.target),
               "source_counts": np.bincount(pair.source.y, minlength=10).tolist(),
               "target_counts": np.bincount(pair.target.y, minlength=10).tolist()}
        if not args.no_baseline:
            row.update(source_only_baseline(split, args.seed))
        rows.append(row)
    for r in rows:
        print(f"{r['pair']:<16} {r['shape']:>8}  n_source={r['n_source']:<5} n_target={r['n_target']:<5}"
              + ("" if args.no_baseline else
                 f"  logreg source-only: source test acc={r['source_test_acc']:.3f}  "
                 f"target test acc={r['target_test_acc']:.3f}"))
        print(f"{'':<16} source class counts {r['source_counts']}")
        print(f"{'':<16} target class counts {r['target_counts']}")
    return 0
