# Shared by the stage scripts (stage8.sh and later), sourced after their `cd` to the repository root:
# PY, LOG, the pair lists and `two`, which runs run_grid.py in two processes (shards) at once.
PY=${PYTHON:-.venv/bin/python}
LOG=benchmarks/defaults/results
pairs_of() {  # pairs_of EXPR: the names of pairs.py that the Python expression EXPR (over PAIRS, PROBES) lists
  PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS, PROBES; \
print(' '.join($1))"
}
LONG_PAIRS=$(pairs_of "p for p in PAIRS if not p.startswith('digits')")
two() {  # two NAME ARGS...: run_grid.py NAME ARGS in two processes (shards) at once
  local name=$1
  shift
  for i in 0 1; do
    PYTHONPATH=. OMP_NUM_THREADS=1 $PY benchmarks/defaults/run_grid.py $name "$@" --shard $i/2 >> $LOG/$name.$i.log 2>&1 &
  done
  wait
}
