#!/bin/bash
# stage 11 (issue #13): JDOT, stage 8's withdrawn candidate (alpha 1 relative, normaliser in the graph) with
# lambda_t 0.3 or 1 (skada's reg_cl), or with the epoch of the lowest held-out source cross-entropy; and alpha 0.3 at
# lambda_t 1 (configs.py, stage 11).
#   stage11.sh short   23 pairs x seeds 0-1 (results/stage11.*.jsonl)
#   stage11.sh seed2 CONFIGS...   seed 2 for the best (results/stage11s2.*.jsonl)
#   stage11.sh long CONFIGS...    the long-game regime, 17 pairs x seeds 0-2 (results/stage11long.*.jsonl)
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage11 --seeds 0 1 --configs jdot_sg_a1_l0.3 jdot_sg_a1_l1 jdot_sg_a1_svce jdot_sg_a0.3_l1 ;;
  seed2) shift; two stage11s2 --seeds 2 --configs "$@" ;;
  long) shift; DA_DEFAULTS_N=4000 two stage11long --pairs $LONG_PAIRS --seeds 0 1 2 --configs "$@" ;;
  *) echo "usage: $0 short | seed2 CONFIGS... | long CONFIGS..."; exit 2 ;;
esac
