#!/bin/bash
# stage 3 (revision-3 defaults): process A = align="auto" (seed 0) then the shipped defaults (seed 1, half);
# process B = skada 0.6 side by side (seed 0) then the other half of the shipped defaults (seed 1).
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}  # the repository venv of make; PYTHON=... to use another
F="source_only mmd_default dann_default cdan_default jdot_default coral_default sinkhorn_default swd_default"
: > benchmarks/defaults/results/pids
(PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 $PY benchmarks/defaults/run_grid.py auto --configs auto --seeds 0 \
   > benchmarks/defaults/results/auto.log 2>&1;
 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 $PY benchmarks/defaults/run_grid.py final --configs $F --seeds 1 --shard 0/2 \
   > benchmarks/defaults/results/final.0.log 2>&1) & echo $! >> benchmarks/defaults/results/pids
(PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 $PY benchmarks/defaults/skada_side_by_side.py --seeds 0 \
   > benchmarks/defaults/results/skada.log 2>&1;
 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 $PY benchmarks/defaults/run_grid.py final --configs $F --seeds 1 --shard 1/2 \
   > benchmarks/defaults/results/final.1.log 2>&1) & echo $! >> benchmarks/defaults/results/pids
