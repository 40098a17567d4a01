#!/usr/bin/env bash
# The GPU version of the study (issue 13, "On a GPU"), in ONE short GPU slot (guarded below to
# fit one device call, nothing downloaded): end-to-end supervised, BYOL and SCD-BYOL with ResNet-18
# (small stem) at 64 px views on the distinct-texture split and on the default split, the map
# and kNN measured every epoch; then the frozen-feature probe (`scd-lab study objective`, on
# the GPU with --device) on those six trunks, `study table` and `study trunks`. Resumable:
# a finished run or seed is read back, a stopped run resumed.
#
#   DROP_CKPT=1 OUT=$OUT/gpu-study bash scripts/gpu_study.sh   # on the lent GPU (one call)
#   SMOKE=1 bash scripts/gpu_study.sh                           # the same pipeline on the CPU
#                                                               # (tiny settings)
# Everything goes under $OUT (default runs/gpu-study): runs/ (run directories), study/ (one
# JSON per seed), logs/; the small results (study JSON, tables, each run without its
# checkpoints: config, metrics.jsonl, summary, snapshots) are copied to $RESULTS (default
# $OUT/results) at the end, also when the script is stopped. DROP_CKPT=1 then deletes the
# checkpoints (~150 MB per ResNet-18 run), KEEP them (default) to probe the trunks again.
#
# Its time per stage on one GPU (estimate and measurement): docs/cost.md, "The GPU study's time".
# Guards: the training stage stops at TRAIN_S (each run gets an equal share of what is left;
# a stopped run keeps its last checkpoint, every CKPT_EVERY epochs, and its metrics), the
# probe at PROBE_S, the trunk report at TRUNKS_S: at most ~9.3 min in all.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export SCD_LAB_CACHE=${SCD_LAB_CACHE:-/tmp/scd_cache}
T0=$(date +%s)
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then  # the CPU check of this script: same commands, tiny everything
  : "${DEVICE:=cpu}" "${ARCH:=resnet_tiny}" "${CROP:=32}" "${NUM_TRAIN:=96}" "${NUM_TEST:=48}"
  : "${BATCH:=32}" "${EPOCHS:=2}" "${MAX_STEPS:=4}" "${PROBE_STEPS:=5}" "${CEILING_STEPS:=5}"
  : "${TRAIN_S:=180}" "${PROBE_S:=120}" "${TRUNKS_S:=90}" "${PROBE_PAR:=6}"
fi
DEVICE=${DEVICE:-cuda}
ARCH=${ARCH:-resnet18}
CROP=${CROP:-64}
NUM_TRAIN=${NUM_TRAIN:-20000}
NUM_TEST=${NUM_TEST:-1000}
BATCH=${BATCH:-256}
EPOCHS=${EPOCHS:-10}
MAX_STEPS=${MAX_STEPS:-null}
LR=${LR:-0.2}  # at batch 256 (linear scaling), as the 40-epoch GPU runs of the conditions sweep
# the supervised run's own lr (at batch 256): its linear classifier on ResNet-18's 512 GAP
# features is unstable above ~0.06 with momentum 0.9 (the head's Hessian has lambda_max ~61 at
# initialisation, 10 classes, 64 px: lr < 2 (1 + 0.9) / 61); at 0.2 the run goes through a loss
# spike once the warm-up passes ~0.06 and ended at chance in one of two GPU runs (docs/findings.md)
SUP_LR=${SUP_LR:-0.05}
CKPT_EVERY=${CKPT_EVERY:-2}
SEEDS=${SEEDS:-0,1,2}
PROBE_STEPS=${PROBE_STEPS:-2000}
CEILING_STEPS=${CEILING_STEPS:-1500}
TRAIN_S=${TRAIN_S:-330}
PROBE_S=${PROBE_S:-140}
TRUNKS_S=${TRUNKS_S:-50}
PROBE_PAR=${PROBE_PAR:-6}
METHODS=${METHODS:-supervised byol scd-byol}
SPLITS=${SPLITS:-distinct default}
OUT=${OUT:-runs/gpu-study}
RUNS=$OUT/runs
RESULTS=${RESULTS:-$OUT/results}
mkdir -p "$RUNS" "$OUT/study" "$OUT/logs" "$RESULTS"
NCPU=$(nproc 2>/dev/null || echo 2)

SCD=(python -m scd_lab.cli)  # `scd-lab`, installed or not (PYTHONPATH above)
say() { echo "[gpu_study +$(( $(date +%s) - T0 ))s] $*"; }
split_sets() {  # the --set overrides of a split
  case $1 in
    distinct) echo "--set data.num_classes=5 --set data.distinct_textures=true --set data.camouflage=0.0" ;;
    default) echo "" ;;
    *) echo "unknown split $1" >&2; return 2 ;;
  esac
}
# the `cpu` preset's recipe (SGD, heads 1024/256 as the probe's, crop scale 0.2) with the
# trunk, views, data size, device and monitors of this study
COMMON="--preset cpu --set backbone.arch=$ARCH --set backbone.small_stem=true
  --set data.crop_size=$CROP --set data.num_train=$NUM_TRAIN --set data.num_test=$NUM_TEST
  --set train.device=$DEVICE --set train.epochs=$EPOCHS --set train.max_steps=$MAX_STEPS
  --set train.batch_size=$BATCH --set train.knn_every=1
  --set train.snapshot_every=1 --set train.ckpt_every=$CKPT_EVERY --set train.progress=false"

collect() {  # the small results to $RESULTS (runs without checkpoints, study, tables, logs)
  mkdir -p "$RESULTS/runs"
  tar -C "$RUNS" --exclude=checkpoints -cf - . | tar -C "$RESULTS/runs" -xf -
  [ -d "$OUT/study" ] && cp -r "$OUT/study" "$RESULTS/"
  cp "$OUT"/*.md "$OUT"/*.json "$OUT"/*.txt "$RESULTS/" 2>/dev/null || true
  cp -r "$OUT/logs" "$RESULTS/"
}
finish() {
  collect
  if [ "${DROP_CKPT:-0}" = 1 ]; then find "$RUNS" -path '*/checkpoints/*' -name '*.pt' -delete; fi
  say "results in $RESULTS"
}
kill_tree() {  # kill_tree PID: the process and everything it started, children first
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
stopped() {
  say "stopped; collecting what is there"
  for job in $(jobs -p); do kill_tree "$job"; done
  for child in $(ps -o pid= --ppid $$ 2>/dev/null); do kill_tree "$child"; done
  exit 143
}
trap finish EXIT
trap stopped TERM INT

{ { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv; } || true; python -c "import torch; print('torch', torch.__version__, 'cuda',
torch.cuda.is_available())"; echo "SMOKE=$SMOKE DEVICE=$DEVICE ARCH=$ARCH CROP=$CROP"\
 "NUM_TRAIN=$NUM_TRAIN BATCH=$BATCH EPOCHS=$EPOCHS MAX_STEPS=$MAX_STEPS LR=$LR SUP_LR=$SUP_LR"\
 "SEEDS=$SEEDS"\
 "PROBE_STEPS=$PROBE_STEPS TRAIN_S=$TRAIN_S PROBE_S=$PROBE_S"; } | tee "$OUT/settings.txt"

# ---- 1. training: one lane per split, its runs one after the other, each given an equal
# share of the time left before the stage's deadline
TRAIN_END=$(( $(date +%s) + TRAIN_S ))
train_lane() {
  local split=$1 left n=0 budget rc
  local -a methods=($METHODS)
  export OMP_NUM_THREADS=$(( NCPU / 2 > 0 ? NCPU / 2 : 1 ))
  for method in "${methods[@]}"; do
    local name=$split-$method dir=$RUNS/$split-$method
    left=$(( ${#methods[@]} - n )); n=$(( n + 1 ))
    if [ -f "$dir/summary.json" ]; then say "$name: finished before, kept"; continue; fi
    budget=$(( (TRAIN_END - $(date +%s)) / left ))
    if [ "$budget" -lt 5 ]; then say "$name: no time left, not trained"; continue; fi
    say "$name: training (at most ${budget}s)"
    rc=0
    if [ -f "$dir/config.yaml" ]; then
      timeout "$budget" "${SCD[@]}" train --resume "$dir" >>"$OUT/logs/$name.log" 2>&1 || rc=$?
    else
      # shellcheck disable=SC2046,SC2086
      local lr=$LR
      [ "$method" = supervised ] && lr=$SUP_LR
      timeout "$budget" "${SCD[@]}" train $COMMON $(split_sets "$split") --set optim.lr=$lr \
        --method "$method" --out "$dir" >>"$OUT/logs/$name.log" 2>&1 || rc=$?
    fi
    if [ "$rc" = 0 ]; then say "$name: done"; grep -E "kNN|steps" "$OUT/logs/$name.log" | tail -2 || true
    else say "$name: stopped (rc $rc; 124 = its time share ran out), see logs/$name.log"; fi
  done
}
for split in $SPLITS; do train_lane "$split" & done
wait
say "training stage over"

python - "$RUNS" > "$OUT/curves.md" <<'EOF' || say "curves: failed"
"""kNN top-1 and the method's map AUROC at each epoch, per run (where they plateau)."""
import sys
from pathlib import Path
from scd_lab.methods import default_map_name
from scd_lab.rundir import RunDir
print("| run | epochs | kNN top-1 by epoch | map | map AUROC by epoch | per-image unsigned end |"
      " img/s (median) | wall s |\n|---|---|---|---|---|---|---|---|")
for d in sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "config.yaml").is_file()):
    rd = RunDir(d)
    name = default_map_name(rd.config().method.name)
    knn, sal = rd.metrics("knn"), rd.metrics("saliency")
    ips = sorted(r["images_per_s"] for r in rd.metrics("train")) or [0]
    wall = rd.summary()["wall_s"] if rd.is_finished() else "stopped"
    end = "%.3f" % sal[-1].get(name + "/auroc_per_image_unsigned", float("nan")) if sal else "-"
    knns = " ".join("%.2f" % r["knn_top1"] for r in knn)
    maps = " ".join("%.2f" % r[name + "/auroc"] for r in sal)
    epochs = knn[-1]["epoch"] if knn else 0
    print(f"| {d.name} | {epochs:g} | {knns} | {name} | {maps} | {end} | "
          f"{ips[len(ips) // 2]:.0f} | {wall} |")
EOF
cat "$OUT/curves.md"
collect

# ---- 2. the frozen-feature probe on every trunk with a checkpoint, PROBE_PAR at a time
TRUNKS=()
for split in $SPLITS; do for method in $METHODS; do
  if [ -f "$RUNS/$split-$method/checkpoints/last.pt" ]; then TRUNKS+=("$RUNS/$split-$method")
  else say "$split-$method: no checkpoint, left out of the probe"; fi
done; done
probe() {  # probe TRUNK METHOD: SCD's heads with the oracle on seed 0, or LEWEL's heads
  local trunk=$1 method=$2 rc=0 name
  name=$(basename "$trunk")-$method
  local -a extra=(--oracle 0)
  [ "$method" = scd ] || extra=()
  timeout "$(( PROBE_END - $(date +%s) > 1 ? PROBE_END - $(date +%s) : 1 ))" \
    "${SCD[@]}" study objective --trunk "$trunk" --method "$method" --seeds "$SEEDS" \
    ${extra[@]+"${extra[@]}"} --steps "$PROBE_STEPS" --device "$DEVICE" --out "$OUT/study" --quiet \
    >>"$OUT/logs/probe-$name.log" 2>&1 || rc=$?
  say "probe $name: rc $rc"
}
# the jobs: SCD on every trunk trained here, LEWEL on the trunks named in LEWEL_ON (split-method
# names) and on EXTRA_LEWEL (trunks trained elsewhere, e.g. the CPU study's runs/trunks/*)
JOBS=()
for trunk in "${TRUNKS[@]}"; do JOBS+=("$trunk|scd"); done
for trunk in "${TRUNKS[@]}"; do
  for want in ${LEWEL_ON:-}; do
    if [ "$(basename "$trunk")" = "$want" ]; then JOBS+=("$trunk|lewel"); fi
  done
done
for trunk in ${EXTRA_LEWEL:-}; do JOBS+=("$trunk|lewel"); done
export OMP_NUM_THREADS=$(( NCPU / PROBE_PAR > 0 ? NCPU / PROBE_PAR : 1 ))
PROBE_END=$(( $(date +%s) + PROBE_S ))
running=0
for job in "${JOBS[@]}"; do
  probe "${job%|*}" "${job#*|}" &
  running=$(( running + 1 ))
  if [ "$running" -ge "$PROBE_PAR" ]; then wait -n || true; running=$(( running - 1 )); fi
done
wait
"${SCD[@]}" study table --out "$OUT/study" | tee "$OUT/study-table.md" || say "study table: failed"

# ---- 3. what each trunk offers a map: kNN, channel-sum map, the map ceiling (one per split)
export OMP_NUM_THREADS=$(( NCPU / 2 > 0 ? NCPU / 2 : 1 ))
for split in $SPLITS; do
  mine=()
  for t in "${TRUNKS[@]}"; do case $(basename "$t") in "$split"-*) mine+=("$t") ;; esac; done
  [ "${#mine[@]}" -gt 0 ] || continue
  ( timeout "$TRUNKS_S" "${SCD[@]}" study trunks --device "$DEVICE" \
      --ceiling-steps "$CEILING_STEPS" --json "$OUT/trunks-$split.json" "${mine[@]}" \
      > "$OUT/trunks-$split.md" 2>>"$OUT/logs/trunks-$split.log" \
      || say "study trunks ($split): stopped or failed, see logs/trunks-$split.log" ) &
done
wait
cat "$OUT"/trunks-*.md 2>/dev/null || true
say "done"
