#!/bin/bash
# stage 1: the shipped defaults and one knob at a time per method, 2 seeds (tuning pairs; target labels used)
cd "$(dirname "$0")/../.."
C="source_only mmd dann cdan jdot coral sinkhorn swd mmd_gauss_w10 mmd_lap9_w10 dann_adam_w0.3 dann_sgd_lr0.1_w1 cdan_sgd_lr0.1_w1 coral_w100 swd_w10 sinkhorn_w10 jdot_scaled_a0.03_l0.1 jdot_scaled_a0.1_l0.1"
: > benchmarks/defaults/results/pids
for k in 0 1; do
  PYTHONPATH=. OMP_NUM_THREADS=1 nohup nice -n 5 ${PYTHON:-.venv/bin/python} benchmarks/defaults/run_grid.py stage1 --configs $C --seeds 0 --shard $k/2 > benchmarks/defaults/results/stage1.$k.log 2>&1 & echo $! >> benchmarks/defaults/results/pids
done
