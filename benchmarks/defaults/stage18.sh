#!/bin/bash
# stage 18 (issue #13): infomax with a distribution-matching term beside it (configs.py, stage 18: im_mmd_w*,
# im_coral_w*, im_sinkhorn_w1), each term at its method's recipe weight or below, infomax at its recipe's 2.
#   stage18.sh short   23 pairs x seeds 0-2 (results/stage18.*.jsonl)
#   stage18.sh long    the long-game regime, 17 pairs x seeds 0-2, the best two (results/stage18long.*.jsonl)
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage18_tables.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage18 --seeds 0 1 2 --configs im_mmd_w3 im_mmd_w10 im_coral_w10000 im_coral_w30000 im_sinkhorn_w1 \
           im_coral_w1000 im_coral_w3000 im1_coral_w10000 ;;
  long) DA_DEFAULTS_N=4000 two stage18long --pairs $LONG_PAIRS --seeds 0 1 2 --configs ${CONFIGS_LONG:?} ;;
  *) echo "usage: $0 short | long"; exit 2 ;;
esac
