#!/bin/bash
# stage 19 (issue #13, auto far from the oracle): stage 17's nine scratch candidates with revision 11's infomax_coral
# as a tenth, outputs kept (results/stage19pool.*.jsonl, results/probs/auto_pool10_scratch19/); no training
# reads target labels, the tables do (ORACLE gaps).
#   stage19.sh pool    23 pairs x seeds 0-2
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage19_tables.py [--search]
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  pool) two stage19pool --seeds 0 1 2 --configs auto_pool10_scratch19 ;;
  *) echo "usage: $0 pool"; exit 2 ;;
esac
