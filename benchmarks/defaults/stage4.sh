#!/bin/bash
# stage 4 (issue #13): the methods whose revision-3 defaults still harm on average (Sinkhorn, DANN, CDAN).
# ONE process, sequential (shared machine). Tuning pairs only; target labels of the 23 pairs used.
#   stage4.sh seed0   every candidate on seed 0 (plus source-only, re-run: identical to stage 1's)
#   stage4.sh reg     Sinkhorn's reg x0.5 / x2 at the two weights that did no harm on seed 0
#   stage4.sh seed1   the best candidates on seed 1 (plus source-only, re-run: identical to final's)
#   stage4.sh SEED CONFIG...   anything else
# The third seed of every shipped default and of DANN / CDAN at lambda_max 0.1 (results/seed2.0.jsonl):
#   PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/defaults/run_grid.py seed2 --seeds 2 --configs \
#     source_only dann_sgd_lr0.1_l0.1 cdan_sgd_lr0.1_l0.1 dann_default cdan_default sinkhorn_default \
#     mmd_default jdot_default coral_default swd_default
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}  # the repository venv of make; PYTHON=... to use another
case "$1" in
  seed0) S=0; C="source_only dann_sgd_lr0.1_l0.3 dann_sgd_lr0.1_l0.1 dann_sgd_lr0.01_l1 cdan_sgd_lr0.1_l0.3 \
cdan_sgd_lr0.1_l0.1 cdan_sgd_lr0.01_l1 sinkhorn_w0.1 sinkhorn_w0.3" ;;
  reg) S=0; C="sinkhorn_w0.3_reg0.05 sinkhorn_w0.3_reg0.2 sinkhorn_w0.1_reg0.05 sinkhorn_w0.1_reg0.2" ;;
  seed1) S=1; C="source_only sinkhorn_w0.3 sinkhorn_w0.1 dann_sgd_lr0.1_l0.1 cdan_sgd_lr0.1_l0.1" ;;
  [0-9]*) S=$1; shift; C="$*" ;;
  *) echo "usage: $0 seed0 | reg | seed1 | SEED CONFIG..."; exit 2 ;;
esac
PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py stage4 --configs $C --seeds $S \
  >> benchmarks/defaults/results/stage4.$S.log 2>&1
