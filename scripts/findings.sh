#!/usr/bin/env bash
# Every number of docs/findings.md, by the kit's own commands, in the order of its tables.
# Resumable: trained trunks and finished seeds are read back. Two lanes by default
# (LANES=1 to run one after the other); one CPU thread per lane.
#   bash scripts/findings.sh            # its time on a 2-core CPU: docs/findings.md
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=runs/trunks
D="--set data.num_classes=5 --set data.distinct_textures=true --set data.camouflage=0.0"
STEPS=${STEPS:-2000}
S="scd-lab study objective --steps $STEPS --quiet"

trunk() {  # trunk NAME METHOD [overrides...]: a 6-epoch `cpu`-preset run, reused when finished
  local name=$1 method=$2; shift 2
  if [ -f "$T/$name/summary.json" ]; then return; fi
  if [ -f "$T/$name/config.yaml" ]; then scd-lab train --resume "$T/$name"; return; fi
  scd-lab train --preset cpu --method "$method" "$@" --set train.progress=false --out "$T/$name"
}

lane1() {
  trunk sup-distinct supervised $D
  $S --trunk $T/sup-distinct --alpha 1 --oracle 0
  $S --trunk $T/sup-distinct --alpha 0 --oracle 0
  $S --trunk $T/sup-distinct --method lewel
  $S --trunk $T/sup-distinct --alpha 1 --set semantic_predictor=true
  $S --trunk $T/sup-distinct --alpha 1 --set semantic_bn=joint
}

lane2() {
  $S --trunk random --data default --alpha 1 --oracle 0
  trunk sup-default supervised
  $S --trunk $T/sup-default --alpha 1 --oracle 0
  trunk byol-default byol
  $S --trunk $T/byol-default --alpha 1 --oracle 0
  $S --trunk $T/sup-default --alpha 0 --oracle 0
  $S --trunk $T/sup-default --method lewel --seeds 0  # one seed: ~40 CPU-min a seed here
}

if [ "${LANES:-2}" = 1 ]; then lane1; lane2; else lane1 & lane2 & wait; fi
scd-lab study table
scd-lab study trunks --json runs/study/trunks.json random $T/sup-default $T/sup-distinct $T/byol-default
mkdir -p docs/figures
scd-lab study figures --out docs/figures
# ship the small results (per-seed JSON, the trunks' table) for notebook 07 and the README
for cell in runs/study/*/; do
  mkdir -p "scd_lab/shipped/study/$(basename "$cell")" && cp "$cell"seed*.json "scd_lab/shipped/study/$(basename "$cell")/"
done
cp runs/study/trunks.json scd_lab/shipped/study/
# §5: the papers' map protocols on the shipped reference runs, and the demo's runs trained again
# with checkpoints for the protocols, faithfulness and the paired SCD-BYOL - BYOL differences
for r in scd_lab/shipped/reference_runs/*/; do echo "## $(basename "$r")"; scd-lab eval maps --run "$r"; done
scd-lab demo --out runs/demo-paired
for m in byol scd-byol lewel-byol; do
  scd-lab eval saliency runs/demo-paired/$m
  scd-lab eval faithfulness runs/demo-paired/$m --images 256
done
scd-lab eval report runs/demo-paired/byol runs/demo-paired/scd-byol --paired
