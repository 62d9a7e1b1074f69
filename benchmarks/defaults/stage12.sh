#!/bin/bash
# stage 12 (issue #13): does JDOT's best alpha follow the number of classes or the kind of data? Stage 8's JDOT
# candidates (alpha 0.1-3 relative, normaliser in the graph) and the shipped one, on the probe pairs of pairs.py
# (PROBES: 10 low-dimensional Gaussian classes; 3 classes of digit images; patches of two photos, 4 classes),
# which are not in the benchmark.
#   stage12.sh probe   9 probe pairs x seeds 0-2 (results/stage12probe.*.jsonl)
cd "$(dirname "$0")/../.."
. benchmarks/defaults/_stages.sh
PROBE_PAIRS=$(pairs_of "PROBES")
case "$1" in
  probe) two stage12probe --pairs $PROBE_PAIRS --seeds 0 1 2 --configs source_only jdot_default jdot_sg_a0.1 \
           jdot_sg_a0.3 jdot_sg_a1 jdot_sg_a3 ;;
  *) echo "usage: $0 probe"; exit 2 ;;
esac
