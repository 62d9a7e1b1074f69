#!/bin/bash
# stage 14 (issue #14's Sinkhorn step, checked for issue #13): the shipped Sinkhorn default (align="sinkhorn",
# config sinkhorn_solver14) after the solver's change of path -- one eps level where the largest cost is at most
# 64 eps (da.align.sinkhorn.ANNEAL_ABOVE), the normaliser's gradient folded into the envelope's node. The fixed
# point is the same to the solver's tolerance, so the figures should match revision 8's records
# (sinkhorn_fsg_w1, stages 8 and 8long) within the chaos of training, not bit for bit.
#   stage14.sh short   23 pairs x seeds 0-2 (results/stage14.*.jsonl)
#   stage14.sh long    the long-game regime, 17 pairs x seeds 0-2 (results/stage14long.*.jsonl)
#   stage14.sh check   the held-out check (MNIST<->digits, seeds 0-2; results/mnist_digits_check.stage14.*)
#   stage14.sh diag    a diagnostic for issue #13: skada's DeepJDOT settings in our trainer (configs.py, jdot_skada
#                      and its parts) on its two winning pairs, then the two absolute-alpha configs on all 23 pairs
#                      x seeds 0-2 (results/diag14.*.jsonl)
# Compare: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage14_compare.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage14 --seeds 0 1 2 --configs sinkhorn_solver14 ;;
  long) DA_DEFAULTS_N=4000 two stage14long --pairs $LONG_PAIRS --seeds 0 1 2 --configs sinkhorn_solver14 ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
           --config sinkhorn_solver14 --out mnist_digits_check.stage14.jsonl >> $LOG/mnist_digits_check.stage14.log 2>&1 ;;
  diag) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/run_grid.py diag14 --pairs gauss3_rot60 moons_rot50 \
          --configs jdot_skada jdot_abs_a1 jdot_last jdot_skada_sv
    two diag14 --seeds 0 1 2 --configs jdot_abs_a1 jdot_skada_sv ;;
  *) echo "usage: $0 short | long | check | diag"; exit 2 ;;
esac
