#!/bin/bash
# stage 17 (issue #13, revision 10): the infomax method (SHOT's information maximisation,
# da.align.InformationMaximizationLoss) at weights 0.3-10, its epoch by held-out source accuracy
# (infomax_w*) or cross-entropy (infomax_svl_w*); infomax_default is align="infomax" as shipped.
#   stage17.sh short   23 pairs x seeds 0-2 (results/stage17.*.jsonl)
#   stage17.sh long    the long-game regime, 17 pairs x seeds 0-2, the three best weights (results/stage17long.*.jsonl)
#   stage17.sh check   after the choice: the held-out check (MNIST<->digits, seeds 0-2)
#   stage17.sh pool    stage 16's eight scratch candidates and infomax, outputs kept (results/stage17pool.*.jsonl)
#   stage17.sh auto    align="auto" as shipped with infomax as a sixth finetune candidate (results/stage17auto.*.jsonl)
# Tables: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage17_tables.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage17 --seeds 0 1 2 --configs infomax_w0.3 infomax_w1 infomax_w3 infomax_w10 infomax_svl_w1 \
           infomax_svl_w2 infomax_svl_w3 infomax_svl_w5 infomax_default ;;
  long) DA_DEFAULTS_N=4000 two stage17long --pairs $LONG_PAIRS --seeds 0 1 2 \
          --configs infomax_svl_w1 infomax_default infomax_svl_w3 ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
           --methods infomax >> $LOG/mnist_digits_check.rev10.log 2>&1 ;;
  pool) two stage17pool --seeds 0 1 2 --configs auto_pool9_scratch17 ;;
  auto) two stage17auto --seeds 0 1 2 --configs auto_im17 ;;
  *) echo "usage: $0 short | long | check | pool | auto"; exit 2 ;;
esac
