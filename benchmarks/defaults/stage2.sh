#!/bin/bash
# stage 1: the shipped defaults and one knob at a time per method, 2 seeds (tuning pairs; target labels used)
cd "$(dirname "$0")/../.."
C="sinkhorn_fs_w1 sinkhorn_fs_w10 swd_fs_w1 swd_fs_w10 dann_adam_w0.1 mmd_lap9_w30"
: > benchmarks/defaults/results/pids
for k in 0 1; do
  PYTHONPATH=. OMP_NUM_THREADS=1 nohup nice -n 5 ${PYTHON:-.venv/bin/python} benchmarks/defaults/run_grid.py stage2 --configs $C --seeds 0 --shard $k/2 > benchmarks/defaults/results/stage2.$k.log 2>&1 & echo $! >> benchmarks/defaults/results/pids
done
