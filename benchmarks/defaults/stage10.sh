#!/bin/bash
# stage 10 (issue #13, revision 9): DANN's and CDAN's recipes with the global gradient norm clipped at 100
# (configs dann_clip100, cdan_clip100: align=name with grad_clip=100, all else as shipped at revision 8).
#   stage10.sh short   23 pairs x seeds 0-2 (results/stage10.*.jsonl)
#   stage10.sh long    the long-game regime, 17 pairs x seeds 0-2 (results/stage10long.*.jsonl)
#   stage10.sh check   after the change: align="dann"/"cdan" against the stage records (results/rev9check.0.jsonl),
#                      then the held-out check (MNIST<->digits, seeds 0-2)
# Compare: PYTHONPATH=. .venv/bin/python benchmarks/defaults/stage10_compare.py
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
case "$1" in
  short) two stage10 --seeds 0 1 2 --configs dann_clip100 cdan_clip100 ;;
  long) DA_DEFAULTS_N=4000 two stage10long --pairs $LONG_PAIRS --seeds 0 1 2 --configs dann_clip100 cdan_clip100 ;;
  check) PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/run_grid.py rev9check --seeds 1 \
           --pairs digits_invert1 moons_rot35 --configs dann_default cdan_default
    PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
      --methods dann cdan >> $LOG/mnist_digits_check.rev9.log 2>&1 ;;
  *) echo "usage: $0 short | long | check"; exit 2 ;;
esac
