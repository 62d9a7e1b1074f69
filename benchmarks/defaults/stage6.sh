#!/bin/bash
# stage 6 (issue #13, revision 6): the epoch selection, and DANN / CDAN once more, each candidate on all 23
# pairs and seeds 0-2 (results/stage6.*.jsonl), and the long-game regime (results/long*.jsonl). Tuning pairs
# only; their target labels are used. In the order they ran:
#   stage6.sh adversarial   DANN / CDAN with weight decay 1e-3 or a gradient-norm clip of 1 under the SGD recipe,
#                           and source-only under the weight-decayed recipe (two processes)
#   stage6.sh selection     the shipped DANN / CDAN with each label-free criterion's epoch (two processes)
#   stage6.sh iwcv          IWCV's epoch for every other method, and for DANN / CDAN at lambda_max 0.3 and 0.1
#   stage6.sh cdan          CDAN with IWCV's epoch and the discriminator's dropout, lambda_max or CDAN+E
#   stage6.sh long          the long-game regime of the IWCV candidates (then long-cdan, in a second process)
#   stage6.sh loss          what in IWCV helps: its cross-entropy (unweighted: svce, the criterion
#                           source_val_loss) or its weights (flattened, w^0.5)
#   stage6.sh long-svce     the long-game regime of the svce candidates (then long-svce-ot, in a second process)
#   stage6.sh cdan6         revision 6's CDAN (recipe: the source-loss epoch) at lambda_max 0.3, and CDAN+E
# Then the held-out check, run once after the choice (revision 6):
#   PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/defaults/mnist_digits_check.py --seeds 0 1 2 \
#     --methods None mmd dann cdan coral swd
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
LOG=benchmarks/defaults/results
run() { PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py stage6 "$@"; }
# the configs "$@" in two processes (shards), appending to stage6.0.log and stage6.1.log
two() {
  run --configs "$@" --shard 0/2 >> $LOG/stage6.0.log 2>&1 &
  run --configs "$@" --shard 1/2 >> $LOG/stage6.1.log 2>&1
  wait
}
# long STAGE LOGFILE CONFIG...: the long-game regime (DA_DEFAULTS_N=4000, the 17 generated pairs that can grow)
long() {
  local stage=$1 log=$2
  shift 2
  P=$(PYTHONPATH=. $PY -c "import sys; sys.path.insert(0, 'benchmarks/defaults'); from pairs import PAIRS; \
print(' '.join(p for p in PAIRS if not p.startswith('digits')))")
  DA_DEFAULTS_N=4000 PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 $PY benchmarks/defaults/run_grid.py $stage --pairs $P \
    --seeds 0 1 2 --configs "$@" >> $LOG/$log 2>&1
}
case "$1" in
  adversarial) two dann_sgd_lr0.1_wd1e-3 cdan_sgd_lr0.1_wd1e-3 source_only_sgd_wd1e-3 dann_sgd_lr0.1_clip1 \
                   cdan_sgd_lr0.1_clip1 ;;
  selection) two dann_sel_dev dann_sel_snd dann_sel_entropy dann_sel_iwcv cdan_sel_dev cdan_sel_snd cdan_sel_entropy \
                 cdan_sel_iwcv ;;
  iwcv) two mmd_sel_iwcv coral_sel_iwcv jdot_sel_iwcv sinkhorn_sel_iwcv swd_sel_iwcv dann_l0.3_sel_iwcv \
            dann_l0.1_sel_iwcv cdan_l0.3_sel_iwcv cdan_l0.1_sel_iwcv source_only_sel_iwcv ;;
  cdan)
    run --configs cdan_drop0.5_sel_iwcv cdan_l0.3_drop0.5_sel_iwcv cdan_entropy_sel_iwcv cdan_l0.1_drop0.5_sel_iwcv \
      >> $LOG/stage6.cdan.log 2>&1 ;;
  loss)
    run --configs dann_sel_svce mmd_sel_svce coral_sel_svce cdan_drop0.5_sel_svce dann_sel_iwcv0.5 mmd_sel_iwcv0.5 \
      coral_sel_iwcv0.5 cdan_drop0.5_sel_iwcv0.5 >> $LOG/stage6.loss.log 2>&1
    run --configs source_only_sel_svce jdot_sel_svce sinkhorn_sel_svce swd_sel_svce >> $LOG/stage6.loss.log 2>&1 ;;
  long) long long long.iwcv.log dann_sel_iwcv mmd_sel_iwcv coral_sel_iwcv sinkhorn_sel_iwcv cdan_l0.1_sel_iwcv ;;
  long-cdan) long long_cdan long.iwcv.log cdan_drop0.5_sel_iwcv ;;
  long-svce) long long_svce long.svce.log dann_sel_svce mmd_sel_svce coral_sel_svce cdan_drop0.5_sel_svce ;;
  long-svce-ot) long long_svce_ot long.svce_ot.log sinkhorn_sel_svce swd_sel_svce ;;
  cdan6) two cdan_drop0.5_l0.3_sel_svce cdan_drop0.5_entropy_sel_svce ;;
  *) echo "usage: $0 adversarial | selection | iwcv | cdan | long | long-cdan | loss | long-svce | long-svce-ot | cdan6"
     exit 2 ;;
esac
