#!/usr/bin/env bash
# Continue both adapters of a synth checkpoint on one GPU for a fixed time, side by side, then
# export their EMA weights. This is how the shipped adapters were taken past their CPU training
# (reference/weights/synth/TRAINING.md: three chained segments, each started from the previous
# segment's adapters with a fresh optimizer):
#
#   T=440 EB=96  VB=32 SEED=1 OUT=/tmp/out1 bash reference/continue_adapters_gpu.sh
#   T=485 EB=256 VB=64 SEED=2 INIT=/tmp/out1/w OUT=/tmp/out2 bash reference/continue_adapters_gpu.sh
#   T=430 EB=256 VB=64 SEED=3 INIT=/tmp/out2/w OUT=/tmp/out3 CK=250 bash reference/continue_adapters_gpu.sh
#
# Env: T (seconds of training per adapter), EB / VB (edit / video batch size), SEED, CK (checkpoint
# every CK steps: only checkpointed steps are exported, so a short T wants a small CK), W (data
# workers per adapter), INIT (checkpoint whose adapters to continue; the backbone always comes from
# BASE), BASE (default reference/weights/synth), OUT (the continued checkpoint lands in $OUT/w,
# training state and loss.jsonl in $OUT/run). Machines without a package index: put the wheels
# (diffusers, tyro, open_clip_torch and their small dependencies) in a folder named by WHEELS and
# they are installed to a private site dir first.
set -euo pipefail
PY=${PY:-python3}
T=${T:-430}; EB=${EB:-96}; VB=${VB:-32}; W=${W:-7}; SEED=${SEED:-1}; CK=${CK:-500}
BASE=${BASE:-reference/weights/synth}; INIT=${INIT:-$BASE}; OUT=${OUT:-/tmp/out}
if [[ -n "${WHEELS:-}" ]]; then
  $PY -m pip install -q --no-index --no-deps --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
rm -rf "$OUT/w" "$OUT/run"; mkdir -p "$OUT"
cp -r "$BASE" "$OUT/w"; cp -r "$INIT/edit_adapter" "$INIT/video_adapter" "$INIT/eve_config.json" "$OUT/w/"
COMMON=(--weights "$OUT/w" --steps 100000 --lr 3e-4 --lr-warmup-steps 200 --seed "$SEED"
        --checkpoint-every "$CK" --log-every 50 --num-workers "$W")
# SIGINT at the deadline: the last checkpoint is what gets exported below
timeout -s INT "$T" $PY -m reference.train_edit_adapter "${COMMON[@]}" --output-dir "$OUT/run/edit_adapter" \
    --init-adapter "$OUT/w/edit_adapter" --batch-size "$EB" > "$OUT/edit.log" 2>&1 &
timeout -s INT "$T" $PY -m reference.train_video_adapter "${COMMON[@]}" --output-dir "$OUT/run/video_adapter" \
    --init-adapter "$OUT/w/video_adapter" --batch-size "$VB" --first-frame-dropout 0.5 --style-share 0.25 \
    > "$OUT/video.log" 2>&1 &
wait
$PY -m reference.train_edit_adapter --weights "$OUT/w" --output-dir "$OUT/run/edit_adapter" --export-only >> "$OUT/edit.log" 2>&1
$PY -m reference.train_video_adapter --weights "$OUT/w" --output-dir "$OUT/run/video_adapter" --export-only >> "$OUT/video.log" 2>&1
tail -n 1 "$OUT"/run/*/loss.jsonl
