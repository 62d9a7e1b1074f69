#!/bin/bash
# stage 12 (issue #13): does JDOT's best alpha follow the number of classes or the kind of data? Stage 8's JDOT
# candidates (alpha 0.1-3 relative, normaliser in the graph) and the shipped one, on the probe pairs of pairs.py
# (PROBES: 10 low-dimensional Gaussian classes; 3 classes of digit images), which are not in the benchmark.
#   stage12.sh probe   6 probe pairs x seeds 0-2 (results/stage12probe.*.jsonl)
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
LOG=benchmarks/defaults/results
PROBE_PAIRS=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PROBES; \
print(' '.join(PROBES))")
two() {  # two NAME ARGS...: run_grid.py in two processes (shards) at once
  local name=$1
  shift
  for i in 0 1; do
    PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/run_grid.py $name "$@" --shard $i/2 >> $LOG/$name.$i.log 2>&1 &
  done
  wait
}
case "$1" in
  probe) two stage12probe --pairs $PROBE_PAIRS --seeds 0 1 2 --configs source_only jdot_default jdot_sg_a0.1 \
           jdot_sg_a0.3 jdot_sg_a1 jdot_sg_a3 ;;
  *) echo "usage: $0 probe"; exit 2 ;;
esac
