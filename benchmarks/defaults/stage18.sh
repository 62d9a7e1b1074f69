#!/bin/bash
# stage 18 (issue #13): infomax with a distribution-matching term beside it (configs.py, stage 18: im_mmd_w*,
# im_coral_w*, im_sinkhorn_w1), each term at its method's recipe weight or below, infomax at its recipe's 2.
#   stage18.sh short   23 pairs x seeds 0-2 (results/stage18.*.jsonl)
#   stage18.sh long    the long-game regime, 17 pairs x seeds 0-2, the best two (results/stage18long.*.jsonl)
#   stage18.sh shipped after the choice: align="infomax_coral" as shipped (revision 11), both regimes (its
#                      records must equal im_coral_w10000's, which it is by construction)
#   stage18.sh check   after the choice: the held-out check (MNIST<->digits, seeds 0-2)
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage18_tables.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage18 --seeds 0 1 2 --configs im_mmd_w3 im_mmd_w10 im_coral_w10000 im_coral_w30000 im_sinkhorn_w1 \
           im_coral_w1000 im_coral_w3000 im1_coral_w10000 ;;
  long) DA_DEFAULTS_N=4000 two stage18long --pairs $LONG_PAIRS --seeds 0 1 2 --configs ${CONFIGS_LONG:?} ;;
  shipped) two stage18 --seeds 0 1 2 --configs infomax_coral_default
           DA_DEFAULTS_N=4000 two stage18long --pairs $LONG_PAIRS --seeds 0 1 2 --configs infomax_coral_default ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
           --methods infomax_coral >> $LOG/mnist_digits_check.rev11.log 2>&1 ;;
  *) echo "usage: $0 short | long | shipped | check"; exit 2 ;;
esac
