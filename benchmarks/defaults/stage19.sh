#!/bin/bash
# stage 19 (issue #13, auto far from the oracle): stage 17's nine scratch candidates with revision 11's infomax_coral
# as a tenth, outputs kept (results/stage19pool.*.jsonl, results/probs/auto_pool10_scratch19/); no training
# reads target labels, the tables do (ORACLE gaps).
#   stage19.sh pool    23 pairs x seeds 0-2
#   stage19.sh finetune the same ten as finetune candidates (config auto_pool10_finetune19, results/stage19ft.*.jsonl)
#   stage19.sh autolong align="auto" as shipped (config auto) in the long-game regime (results/stage19autolong.*.jsonl),
#                      never run there before
#   stage19.sh auto11   after JDOT left auto's candidates (revision 11): align="auto" as shipped, both regimes
#                      (results/stage19auto11.*.jsonl, stage19auto11long.*.jsonl) and the held-out check
#   stage19.sh check   the option (ten scratch candidates, rule ensemble_top3:bnm, no guard) on the held-out check,
#                      after the decision not to ship it (results/mnist_digits_check.stage19.jsonl, a draft)
#   stage19.sh long    the long-game regime, 17 pairs x seeds 0-2 (config auto_pool10_scratch19long,
#                      results/stage19poollong.*.jsonl): fresh data for the rules the short regime's search found
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage19_tables.py [--search]
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  pool) two stage19pool --seeds 0 1 2 --configs auto_pool10_scratch19 ;;
  long) DA_DEFAULTS_N=4000 two stage19poollong --pairs $LONG_PAIRS --seeds 0 1 2 --configs auto_pool10_scratch19long ;;
  finetune) two stage19ft --seeds 0 1 2 --configs auto_pool10_finetune19 ;;
  autolong) DA_DEFAULTS_N=4000 two stage19autolong --pairs $LONG_PAIRS --seeds 0 1 2 --configs auto ;;
  auto11) two stage19auto11 --seeds 0 1 2 --configs auto
          DA_DEFAULTS_N=4000 two stage19auto11long --pairs $LONG_PAIRS --seeds 0 1 2 --configs auto
          PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
            --methods auto >> $LOG/mnist_digits_check.rev11.log 2>&1 ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
           --config auto_top3_bnm19 --out mnist_digits_check.stage19.jsonl >> $LOG/mnist_digits_check.stage19.log 2>&1 ;;
  *) echo "usage: $0 pool | long | finetune | autolong | auto11 | check"; exit 2 ;;
esac
