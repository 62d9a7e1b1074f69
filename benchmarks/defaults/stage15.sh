#!/bin/bash
# stage 15 (issue #13): JDOT under label shift -- the shipped JDOT with its source rows weighted by an online-EM
# estimate of the target class prior (configs jdot_em and, its ratios clipped to [1/c, c], jdot_em_clip2 and
# jdot_em_clip4: JDOTLoss(target_prior="em", prior_clip=c); configs.py, stage 15; not adopted, docs/defaults.md).
#   stage15.sh short   23 pairs x seeds 0-2 (results/stage15.*.jsonl)
#   stage15.sh long    the long-game regime, 17 pairs x seeds 0-2 (results/stage15long.*.jsonl)
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage15_tables.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage15 --seeds 0 1 2 --configs jdot_em jdot_em_clip2 jdot_em_clip4 ;;
  long) DA_DEFAULTS_N=4000 two stage15long --pairs $LONG_PAIRS --seeds 0 1 2 --configs jdot_em ;;
  *) echo "usage: $0 short | long"; exit 2 ;;
esac
