#!/bin/bash
# stage 6 (issue #13, revision 6 candidates): DANN / CDAN under the SGD recipe with weight decay 1e-3 or a
# gradient-norm clip of 1, and source-only under the weight-decayed recipe, on all 23 pairs and seeds 0-2
# (results/stage6.*.jsonl). Tuning pairs only; their target labels are used.
#   stage6.sh adversarial   the five candidates (two processes)
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
run() { PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py stage6 "$@"; }
case "$1" in
  adversarial)
    A="dann_sgd_lr0.1_wd1e-3 cdan_sgd_lr0.1_wd1e-3 source_only_sgd_wd1e-3 dann_sgd_lr0.1_clip1 cdan_sgd_lr0.1_clip1"
    run --configs $A --shard 0/2 >> benchmarks/defaults/results/stage6.0.log 2>&1 &
    run --configs $A --shard 1/2 >> benchmarks/defaults/results/stage6.1.log 2>&1
    wait ;;
  selection)
    A="dann_sel_dev dann_sel_snd dann_sel_entropy dann_sel_iwcv cdan_sel_dev cdan_sel_snd cdan_sel_entropy cdan_sel_iwcv"
    run --configs $A --shard 0/2 >> benchmarks/defaults/results/stage6.0.log 2>&1 &
    run --configs $A --shard 1/2 >> benchmarks/defaults/results/stage6.1.log 2>&1
    wait ;;
  iwcv)
    A="mmd_sel_iwcv coral_sel_iwcv jdot_sel_iwcv sinkhorn_sel_iwcv swd_sel_iwcv dann_l0.3_sel_iwcv dann_l0.1_sel_iwcv cdan_l0.3_sel_iwcv cdan_l0.1_sel_iwcv source_only_sel_iwcv"
    run --configs $A --shard 0/2 >> benchmarks/defaults/results/stage6.0.log 2>&1 &
    run --configs $A --shard 1/2 >> benchmarks/defaults/results/stage6.1.log 2>&1
    wait ;;
  cdan)
    run --configs cdan_drop0.5_sel_iwcv cdan_l0.3_drop0.5_sel_iwcv cdan_entropy_sel_iwcv cdan_l0.1_drop0.5_sel_iwcv \
      >> benchmarks/defaults/results/stage6.cdan.log 2>&1 ;;
  loss)  # what in IWCV helps: its cross-entropy (unweighted: svce) or its weights (flattened, w^0.5)
    run --configs dann_sel_svce mmd_sel_svce coral_sel_svce cdan_drop0.5_sel_svce dann_sel_iwcv0.5 mmd_sel_iwcv0.5 \
      coral_sel_iwcv0.5 cdan_drop0.5_sel_iwcv0.5 >> benchmarks/defaults/results/stage6.loss.log 2>&1
    run --configs source_only_sel_svce jdot_sel_svce sinkhorn_sel_svce swd_sel_svce \
      >> benchmarks/defaults/results/stage6.loss.log 2>&1 ;;
  long-svce)  # the long-game regime with the held-out source cross-entropy's epoch
    P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long_svce --pairs $P \
      --seeds 0 1 2 --configs dann_sel_svce mmd_sel_svce coral_sel_svce cdan_drop0.5_sel_svce \
      >> benchmarks/defaults/results/long.svce.log 2>&1 ;;
  long-svce-ot)  # ... and Sinkhorn and SWD, which that criterion also helped on the short regime (a second process)
    P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long_svce_ot --pairs $P \
      --seeds 0 1 2 --configs sinkhorn_sel_svce swd_sel_svce >> benchmarks/defaults/results/long.svce_ot.log 2>&1 ;;
  long)  # the long-game regime (DA_DEFAULTS_N=4000, the 17 generated pairs that can grow): IWCV's checkpoint
    P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long --pairs $P \
      --seeds 0 1 2 --configs dann_sel_iwcv mmd_sel_iwcv coral_sel_iwcv sinkhorn_sel_iwcv cdan_l0.1_sel_iwcv \
      >> benchmarks/defaults/results/long.iwcv.log 2>&1 ;;
  long-cdan)  # ... and CDAN with the discriminator's dropout and IWCV's checkpoint (a second process)
    P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
    DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py long_cdan --pairs $P \
      --seeds 0 1 2 --configs cdan_drop0.5_sel_iwcv >> benchmarks/defaults/results/long.iwcv.log 2>&1 ;;
  *) echo "usage: $0 adversarial | selection | iwcv | cdan | loss | long | long-cdan | long-svce | long-svce-ot"; exit 2 ;;
esac
