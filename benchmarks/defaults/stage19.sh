#!/bin/bash
# stage 19 (issue #13, auto far from the oracle): stage 17's nine scratch candidates with revision 11's infomax_coral
# as a tenth, outputs kept (results/stage19pool.*.jsonl, results/probs/auto_pool10_scratch19/); no training
# reads target labels, the tables do (ORACLE gaps).
#   stage19.sh pool    23 pairs x seeds 0-2
#   stage19.sh long    the long-game regime, 17 pairs x seeds 0-2 (config auto_pool10_scratch19long,
#                      results/stage19poollong.*.jsonl): fresh data for the rules the short regime's search found
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage19_tables.py [--search]
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  pool) two stage19pool --seeds 0 1 2 --configs auto_pool10_scratch19 ;;
  long) DA_DEFAULTS_N=4000 two stage19poollong --pairs $LONG_PAIRS --seeds 0 1 2 --configs auto_pool10_scratch19long ;;
  *) echo "usage: $0 pool | long"; exit 2 ;;
esac
