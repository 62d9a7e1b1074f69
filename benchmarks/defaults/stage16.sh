#!/bin/bash
# stage 16 (issue #13): the stage-9 pool (every shipped default a "scratch" candidate) again, with IM, BNM and
# ClassAMI scored for every candidate and each candidate's softmax outputs kept (results/probs/, committed
# with the records) so that ensembles of candidates are judged without training (config auto_pool8_scratch16; and
# align="auto" as shipped, its finetune candidates, config auto16); tuning
# pairs only, their target labels read to judge the rules (ORACLE), never by a rule.
#   stage16.sh run      the 23 pairs x seeds 0-2 (results/stage16.*.jsonl; about 11 s a pair-seed, two processes)
#   stage16.sh tables   the rules re-applied to the records (stage16_rules.py; seeds 0-1 searched, seed 2 fresh)
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  run) two stage16 --configs auto_pool8_scratch16 auto16 --seeds 0 1 2 ;;
  tables) PYTHONPATH=. $PY benchmarks/defaults/stage16_rules.py ;;
  *) echo "usage: $0 run | tables"; exit 2 ;;
esac
