#!/bin/bash
# stage 7 (issue #13, revision 7): which epoch to keep, judged offline on per-epoch traces. Every shipped
# revision-6 default runs once per (pair, seed) with a hook that records, at each epoch, the label-free
# scores (held-out source accuracy and cross-entropy, the predicted class proportions on held-out source and
# on the unlabelled target) and, for the comparison only, the target accuracy (ORACLE); epoch_rules.py then
# applies every rule to the traces without re-training. Tuning pairs only; their target labels are used.
# In the order they ran:
#   stage7.sh trace-short   the 23 pairs x seeds 0-2, the eight shipped configs (results/trace_short.*)
#   stage7.sh trace-long    the long-game regime, 17 pairs x seeds 0-2 (results/trace_long.*)
#   stage7.sh shipped       revision 7's CDAN as shipped, after the choice, through run_grid
#                           (results/stage7.*.jsonl), then in the long-game regime (results/cdan7long.*.jsonl)
#   stage7.sh auto          align="auto" again, to record every candidate's source_val_drift (results/autodrift.*)
# Rules: PYTHONPATH=. .venv/bin/python benchmarks/defaults/epoch_rules.py short   (and: long)
# Then the held-out check, run once after the choice (revision 7):
#   PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
#     --methods mmd dann cdan coral swd
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
LOG=benchmarks/defaults/results
SHIPPED="source_only dann_default cdan_default mmd_default coral_default swd_default jdot_default sinkhorn_default"
LONG_PAIRS=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
# in two processes (shards) at once: two SCRIPT NAME LOGNAME ARGS...
two() {
  local script=$1 name=$2 logname=$3
  shift 3
  for i in 0 1; do
    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 5 $PY benchmarks/defaults/$script $name "$@" --shard $i/2 \
      >> $LOG/$logname.$i.log 2>&1 &
  done
  wait
}
case "$1" in
  trace-short) two epoch_trace.py short trace_short --configs $SHIPPED ;;
  trace-long) DA_DEFAULTS_N=4000 two epoch_trace.py long trace_long --pairs $LONG_PAIRS --configs $SHIPPED ;;
  shipped) two run_grid.py stage7 stage7 --configs cdan_default
    DA_DEFAULTS_N=4000 two run_grid.py cdan7long cdan7long --pairs $LONG_PAIRS --configs cdan_default ;;
  auto) two run_grid.py autodrift autodrift --configs auto ;;
  *) echo "usage: $0 trace-short | trace-long | shipped | auto"; exit 2 ;;
esac
