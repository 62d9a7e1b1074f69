#!/bin/bash
# stage 13 (issue #13): JDOT with its weight ramped up by Ganin's schedule (configs.py, stage 13).
#   stage13.sh short   23 pairs x seeds 0-1 (results/stage13.*.jsonl)
#   stage13.sh seed2 CONFIGS...   seed 2 for the best (results/stage13s2.*.jsonl)
#   stage13.sh long CONFIGS...    the long-game regime, 17 pairs x seeds 0-2 (results/stage13long.*.jsonl)
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage13 --seeds 0 1 --configs jdot_ramp jdot_sg_a1_ramp ;;
  seed2) shift; two stage13s2 --seeds 2 --configs "$@" ;;
  long) shift; DA_DEFAULTS_N=4000 two stage13long --pairs $LONG_PAIRS --seeds 0 1 2 --configs "$@" ;;
  *) echo "usage: $0 short | seed2 CONFIGS... | long CONFIGS..."; exit 2 ;;
esac
