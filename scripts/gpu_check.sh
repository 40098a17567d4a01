#!/usr/bin/env bash
# The prepared GPU check (one call on a lent H100/H200): the throughput benchmark of the
# trainer issue, then the SCD-conditions sweep on the embedded dataset. Results under $OUT.
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 SCD_LAB_CACHE=/tmp/scd_cache
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/gpu.txt"
timeout ${BENCH_S:-100} python benchmarks/gpu_train.py --steps 60 --batch 512 2>&1 | tee "$OUT/bench.txt"
C="--common train.epochs=${EPOCHS:-40} --common train.batch_size=256 --common train.knn_every=2 --common train.snapshot_every=2"
timeout ${SWEEP_S:-330} python -m scd_lab.cli study conditions --out "$OUT/cond" $C \
  --variant "scd:" \
  --variant "byol:method.name=byol" \
  --variant "lewel:method.name=lewel-byol" \
  --variant "scd-reflect:backbone.padding_mode=reflect" \
  --variant "scd-r18-64:backbone.arch=resnet18,data.crop_size=64" \
  --variant "scd-lam1:method.lam=1.0" \
  --variant "scd-alpha0.5:method.alpha=0.5" \
  --variant "scd-jointbn:method.semantic_bn=joint" \
  --variant "scd-lr0.05:optim.lr=0.05" \
  --variant "scd-easy:data.dataset=synthetic-easy" \
  2>&1 | grep -v Warning | tee "$OUT/cond.txt"
find "$OUT" -name "*.pt" -path "*checkpoints*" -delete
