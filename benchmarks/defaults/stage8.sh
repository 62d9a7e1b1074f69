#!/bin/bash
# stage 8 (issue #13, revision 8): the feature-scale normalisers of Sinkhorn and JDOT kept in the graph.
# Sinkhorn divided by the mean squared feature distance with that mean differentiated (sinkhorn_fsg_w*), and
# JDOT's relative alpha over a differentiated mean (jdot_sg_a*); tuning pairs only, their target labels used.
# In the order they ran:
#   stage8.sh first    seeds 0-1, short regime: Sinkhorn weights 1, 3, 10 and JDOT alpha 0.1, 0.3, 1
#   stage8.sh seed2    the neighbours of the best (Sinkhorn 0.3, JDOT 3) on seeds 0-2, the best on seed 2
#   stage8.sh long     the long-game regime, 17 pairs x seeds 0-2, the best of each and JDOT alpha 0.3
#   stage8.sh swd      SWD over the same mean (D^1/2), weights 1, 3, 10, seeds 0-1 (results/stage8swd.*; not adopted)
#   stage8.sh check    after the choice: align="sinkhorn"/"jdot" against the stage records (bit-identical,
#                      results/rev8check.0.jsonl), then the held-out check (MNIST<->digits, seeds 0-2), once
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/fill_docs.py (docs/defaults.md, docs/benchmarks.md).
# The check's JDOT and auto runs (with the JDOT candidate) are results/mnist_digits_check.draft8.jsonl and
# results/draft8auto.*.jsonl: that candidate was withdrawn after the check (docs/defaults.md, stage 8).
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  first) two stage8 --seeds 0 1 --configs sinkhorn_fsg_w1 sinkhorn_fsg_w3 sinkhorn_fsg_w10 jdot_sg_a0.1 \
           jdot_sg_a0.3 jdot_sg_a1 ;;
  seed2) two stage8 --seeds 0 1 2 --configs sinkhorn_fsg_w0.3 jdot_sg_a3 sinkhorn_fsg_w1 jdot_sg_a1 jdot_sg_a0.3 ;;
  long) DA_DEFAULTS_N=4000 two stage8long --pairs $LONG_PAIRS --seeds 0 1 2 \
          --configs jdot_sg_a0.3 jdot_sg_a1 sinkhorn_fsg_w1 ;;
  swd) two stage8swd --seeds 0 1 --configs swd_fsg_w1 swd_fsg_w3 swd_fsg_w10 ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/run_grid.py rev8check --seeds 0 \
           --pairs moons_rot35 digits_blur1 --configs sinkhorn_default jdot_default
    PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
      --methods sinkhorn >> $LOG/mnist_digits_check.rev8.log 2>&1 ;;
  *) echo "usage: $0 first | seed2 | long | swd | check"; exit 2 ;;
esac
