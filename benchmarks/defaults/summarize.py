"""Tables from the results JSONL files (nothing is re-trained): per config, mean target accuracy,
mean gain over source-only (same pair and seed), and win / tie / harm counts (|gain| <= TIE is a tie)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TIE = 0.01  # a pair-level mean gain within +-0.01 is a tie


#: stages whose records are on ``pairs.PROBES``, not on the benchmark's pairs: a stage name is a file-name prefix
#: (``"stage1"`` also reads stage10-13's files, whose configs have names of their own), so these are read only
#: by a load that names them; the probes' ``source_only`` and ``jdot_default`` rows would otherwise join the
#: benchmark's and leave every table with a config that lacks their pairs
PROBE_STAGES = ("stage12probe",)


def _long_regime(stage: str, name: str) -> bool:
    """Whether file ``name``, matched by the prefix ``stage``, holds the long-game regime's runs while the prefix
    does not name it: ``"stage1"`` matches ``stage17long.0.jsonl``, whose configs share their names with the short
    regime's (``stage17.0.jsonl``), so its rows would replace theirs in every table keyed by config, pair and seed."""
    return "long" not in stage and "long" in name[len(stage):].split(".")[0]


def load(*stages) -> list:
    """The records of the files ``results/STAGE*.jsonl`` for each prefix, in file-name order; a prefix reads the
    probes' files and the long-game regime's only where it names them (``PROBE_STAGES``, ``"...long"``)."""
    rows = []
    for st in stages:
        for f in sorted(RESULTS.glob(f"{st}*.jsonl")):
            if f.name.startswith(PROBE_STAGES) and not st.startswith(PROBE_STAGES):
                continue
            if _long_regime(st, f.name):
                continue
            rows += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    return rows


def per_pair(rows) -> dict:
    """(config, pair) -> {seed: acc}."""
    d = defaultdict(dict)
    for r in rows:
        d[(r["config"], r["pair"])][r["seed"]] = r["target_acc"]
    return d


def table(rows, configs=None, ref="source_only", seeds=None):
    d = per_pair(rows)
    pairs = sorted({p for (_, p) in d})
    configs = configs or sorted({c for (c, _) in d})
    out = []
    for c in configs:
        gains, accs = [], []
        for p in pairs:
            a, b = d.get((c, p), {}), d.get((ref, p), {})
            common = [s for s in a if s in b and (seeds is None or s in seeds)]
            if not common:
                continue
            g = np.mean([a[s] - b[s] for s in common])
            gains.append(g)
            accs.append(np.mean([a[s] for s in common]))
        if not gains:
            continue
        g = np.array(gains)
        out.append({"config": c, "n_pairs": len(g), "acc": float(np.mean(accs)), "gain": float(g.mean()),
                    "win": int((g > TIE).sum()), "tie": int((np.abs(g) <= TIE).sum()),
                    "harm": int((g < -TIE).sum()), "worst": float(g.min())})
    return out


if __name__ == "__main__":
    rows = load(*(sys.argv[1:] or ["stage1"]))
    t = table(rows)
    print(f"{'config':28s} {'pairs':>5s} {'acc':>6s} {'gain':>7s} {'W':>3s} {'T':>3s} {'H':>3s} {'worst':>7s}")
    for r in sorted(t, key=lambda r: -r["gain"]):
        print(f"{r['config']:28s} {r['n_pairs']:5d} {r['acc']:6.3f} {r['gain']:+7.3f} {r['win']:3d} {r['tie']:3d} "
              f"{r['harm']:3d} {r['worst']:+7.3f}")
