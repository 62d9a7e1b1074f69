#!/bin/bash
# stage 5 (issue #13, revision 5): CORAL's weight above 100, and DANN / CDAN once more, each candidate on all
# 23 pairs and seeds 0, 1 and 2 (results/stage5.*.jsonl). Tuning pairs only; their target labels are used.
#   stage5.sh adversarial   the discriminator's dropout (alone, and with lambda_max 0.3) under the SGD recipe,
#                           source-only under that recipe, and CDAN+E (two processes, then one)
#   stage5.sh coral         CORAL at weights 300 ... 3e5 (one process)
#   stage5.sh lower         Sinkhorn at weight 0.03, JDOT at alpha 0.01 (for the long regime's harms)
#   stage5.sh long          the long-game regime (DA_DEFAULTS_N=4000; its CDAN+E runs ran as cdan_default while
#                           CDAN+E was a draft of revision 5, renamed since)
# Then the held-out check, run once after the choice (revision 5):
#   PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
#     --methods None coral
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}  # the repository venv of make; PYTHON=... to use another
run() { PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py stage5 "$@"; }
case "$1" in
  adversarial)
    A="dann_sgd_lr0.1_drop0.5 cdan_sgd_lr0.1_drop0.5 dann_sgd_lr0.1_l0.3_drop0.5 cdan_sgd_lr0.1_l0.3_drop0.5"
    run --configs $A --shard 0/2 >> benchmarks/defaults/results/stage5.0.log 2>&1 &
    run --configs $A --shard 1/2 >> benchmarks/defaults/results/stage5.1.log 2>&1
    wait
    run --configs source_only_sgd >> benchmarks/defaults/results/stage5.sgd.log 2>&1
    run --configs cdan_sgd_lr0.1_entropy >> benchmarks/defaults/results/stage5.cdane.log 2>&1 ;;
  coral)
    run --configs coral_w300 coral_w1000 coral_w3000 coral_w10000 coral_w30000 coral_w100000 coral_w300000 \
      >> benchmarks/defaults/results/stage5.coral.log 2>&1 ;;
  lower) run --configs sinkhorn_w0.03_reg0.2 jdot_scaled_a0.01_l0.1 >> benchmarks/defaults/results/stage5.otlow.log 2>&1 ;;
  long)  # the long-game regime: 4000 samples per domain on the 17 generated pairs that can grow
    P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long --pairs $P \
      --seeds 0 1 2 --configs source_only dann_default cdan_sgd_lr0.1_noentropy cdan_sgd_lr0.1_entropy coral_default \
      sinkhorn_default jdot_default mmd_default swd_default >> benchmarks/defaults/results/long.0.log 2>&1
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long --pairs $P \
      --seeds 0 1 --configs sinkhorn_w0.03_reg0.2 jdot_scaled_a0.01_l0.1 >> benchmarks/defaults/results/long.0.log 2>&1
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long --pairs $P \
      --seeds 0 --configs source_only_sgd dann_sgd_lr0.1_l0.1 coral_w100 \
      >> benchmarks/defaults/results/long.0.log 2>&1 ;;
  *) echo "usage: $0 adversarial | coral | lower | long"; exit 2 ;;
esac
