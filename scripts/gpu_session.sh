#!/usr/bin/env bash
# One device call (guarded by TOTAL_S below) for the cost and the study issues:
#   1. `scd-lab bench` on the GPU: every method, ResNet-18 (small stem) at 96 px, batch 512,
#      then ResNet-50 at 96 px, batch 256 (images/s, the step split, peak memory, FLOPs, the
#      fraction of the card's bf16 peak, the ratios; lightly's BYOL when its wheel is carried);
#   2. the GPU study, scripts/gpu_study.sh, in the time left, with LEWEL's heads probed too:
#      on two of its own trunks and on the CPU study's trunks (runs/trunks, carried).
# What comes back (at most 8 files): bench-*.md/json, gpu-study.tar.gz (the study's results,
# runs without checkpoints), session.log.
#
#   device run, carry [".whl", "runs/trunks"]:  OUT=$OUT bash scripts/gpu_session.sh
#   SMOKE=1 bash scripts/gpu_session.sh         # the same pipeline on the CPU, tiny
# .whl holds lightly's wheel (`pip download --no-deps lightly==1.6.0 -d .whl`); without it the
# bench says lightly was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
OUT=${OUT:-runs/gpu-session}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1
say() { echo "[gpu_session +$(( $(date +%s) - T0 ))s] $*"; }
if compgen -G ".whl/*.whl" >/dev/null; then  # carried wheels, for this run only
  SITE=$(mktemp -d)
  python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl && export PYTHONPATH=$SITE
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export SCD_LAB_CACHE=${SCD_LAB_CACHE:-/tmp/scd_cache}
SMOKE=${SMOKE:-0}
TOTAL_S=${TOTAL_S:-550}           # the whole script, before the device call's 600 s limit
STUDY_DIR=${STUDY_DIR:-/tmp/gpu-study}
if [ "$SMOKE" = 1 ]; then
  DEVICE=cpu; TOTAL_S=${TOTAL_S_SMOKE:-600}  # TOTAL_S_SMOKE=1: the bench only
  B18=(--preset cpu --size 16 --batch 8 --rounds 1 --warmup 1 --memory off)
  B50=(--preset cpu --size 16 --batch 8 --rounds 1 --warmup 1 --memory off)
  BENCH_S=150; STUDY_DIR=$OUT/gpu-study
else
  DEVICE=cuda
  B18=(--preset in100-r18 --size 96 --batch 512 --rounds 10 --warmup 3)
  B50=(--preset in100-r18 --set backbone.arch=resnet50 --size 96 --batch 256 --rounds 4
       --warmup 1)
  BENCH_S=80
fi
M=${BENCH_METHODS:-byol,scd-byol,moco,scd-moco,lewel-byol,supervised}
say "start; SMOKE=$SMOKE, results in $OUT"
for net in r18 r50; do
  if [ $net = r18 ]; then args=("${B18[@]}"); else args=("${B50[@]}"); fi
  timeout "$BENCH_S" python -m scd_lab.cli bench --device "$DEVICE" "${args[@]}" --methods "$M" \
    --quiet --json "$OUT/bench-$net.json" > "$OUT/bench-$net.md" \
    || say "bench $net: stopped or failed (rc $?)"
  cat "$OUT/bench-$net.md"
done

# the study in what is left (a share per stage; gpu_study.sh collects its results when stopped)
LEFT=$(( T0 + TOTAL_S - $(date +%s) - 25 ))
say "study: ${LEFT}s left"
if [ "$LEFT" -gt 60 ]; then
  export TRAIN_S=$(( LEFT * 56 / 100 )) PROBE_S=$(( LEFT * 26 / 100 )) TRUNKS_S=$(( LEFT * 9 / 100 ))
  if [ "$SMOKE" != 1 ]; then
    export EPOCHS=${EPOCHS:-6} NUM_TRAIN=${NUM_TRAIN:-12000} PROBE_PAR=${PROBE_PAR:-12}
  fi
  # the CPU study's trunks (scripts/findings.sh) when carried, and the random trunk
  extra="random"
  for t in sup-distinct sup-default byol-default; do
    [ -f "runs/trunks/$t/checkpoints/last.pt" ] && extra="runs/trunks/$t $extra"
  done
  export EXTRA_LEWEL="$extra" LEWEL_ON="distinct-supervised default-supervised"
  SMOKE=$SMOKE DEVICE=$DEVICE DROP_CKPT=1 OUT=$STUDY_DIR RESULTS=$STUDY_DIR/results \
    timeout "$LEFT" bash scripts/gpu_study.sh || say "study: rc $?"
fi
tar -C "$STUDY_DIR" -czf "$OUT/gpu-study.tar.gz" results 2>/dev/null || say "no study results"
ls -la "$OUT"
say "done"
