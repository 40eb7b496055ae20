#!/usr/bin/env bash
# Continue both adapters of a synth checkpoint on one GPU for a fixed time, side by side, then
# export their EMA weights. This is how the shipped adapters were taken past their CPU training
# (reference/weights/synth/TRAINING.md: three chained segments, each started from the previous
# segment's adapters with a fresh optimizer):
#
#   T=440 EB=96  VB=32 SEED=1 OUT=/tmp/out1 bash reference/continue_adapters_gpu.sh
#   T=485 EB=256 VB=64 SEED=2 INIT=/tmp/out1/model OUT=/tmp/out2 bash reference/continue_adapters_gpu.sh
#   T=430 EB=256 VB=64 SEED=3 INIT=/tmp/out2/model OUT=/tmp/out3 CK=250 bash reference/continue_adapters_gpu.sh
#
# $OUT is a run folder as reference.ship reads it: the continued checkpoint in $OUT/model (its
# notes chain each adapter's new segment onto its earlier training, `continued_from`), and in
# $OUT/train the earlier logs of INIT (a shipped checkpoint's logs/, or a run's train/) beside the
# new segment's, <part>_$TAG. So `python -m reference.ship --run $OUT` ships the whole lineage.
#
# Env: T (seconds of training per adapter), EB / VB (edit / video batch size), SEED, TAG (the new
# segment's name, default gpu$SEED), CK (checkpoint every CK steps: only checkpointed steps are
# exported, so a short T wants a small CK), W (data workers per adapter), INIT (checkpoint whose
# adapters to continue; the backbone always comes from BASE), BASE (default
# reference/weights/synth), OUT, EDIT_ARGS / VIDEO_ARGS (more flags for that trainer, e.g.
# EDIT_ARGS="--target-latents mode --condition-dropout 0.1"). Machines without a package index:
# put the wheels (diffusers, tyro, open_clip_torch and their small dependencies) in a folder named
# by WHEELS and they are installed to a private site dir first.
set -euo pipefail
shopt -s nullglob
PY=${PY:-python3}
T=${T:-430}; EB=${EB:-96}; VB=${VB:-32}; W=${W:-7}; SEED=${SEED:-1}; CK=${CK:-500}; TAG=${TAG:-gpu$SEED}
BASE=${BASE:-reference/weights/synth}; INIT=${INIT:-$BASE}; OUT=${OUT:-/tmp/out}
EARLIER=""  # INIT's earlier logs: a shipped checkpoint's logs/, or a run folder's train/
for d in "$INIT/logs" "$INIT/../train"; do [[ -d "$d" ]] && { EARLIER=$d; break; }; done
# refuse before anything is deleted: OUT must not hold INIT, and the new segment must be new
case "$(realpath "$INIT")/" in "$(realpath -m "$OUT")"/*)
  echo "INIT=$INIT lies inside OUT=$OUT, which is rebuilt: pick another OUT" >&2; exit 2;; esac
for part in edit_adapter video_adapter; do
  if [[ -n "$EARLIER" && -e "$EARLIER/${part}_$TAG" ]]; then
    echo "TAG=$TAG names an earlier segment of INIT ($EARLIER/${part}_$TAG); pick another TAG or SEED" >&2; exit 2
  fi
done
if [[ -n "${WHEELS:-}" ]]; then
  "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "$WHEELS"/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
rm -rf "$OUT/model" "$OUT/train"; mkdir -p "$OUT/train"
cp -r "$BASE" "$OUT/model"; rm -rf "$OUT/model/logs"
cp -r "$INIT/edit_adapter" "$INIT/video_adapter" "$INIT/eve_config.json" "$OUT/model/"
if [[ -n "$EARLIER" ]]; then
  for run in "$EARLIER"/*/; do  # the logs and run records only, not the training state
    dest=$OUT/train/$(basename "$run"); mkdir -p "$dest"
    for f in loss.jsonl train_config.json run.json; do [[ ! -f "$run/$f" ]] || cp "$run/$f" "$dest/"; done
  done
fi
M=$OUT/model; EDIT=$OUT/train/edit_adapter_$TAG; VIDEO=$OUT/train/video_adapter_$TAG
read -ra EDIT_EXTRA <<< "${EDIT_ARGS:-}"; read -ra VIDEO_EXTRA <<< "${VIDEO_ARGS:-}"
COMMON=(--weights "$M" --steps 100000 --lr 3e-4 --lr-warmup-steps 200 --seed "$SEED"
        --checkpoint-every "$CK" --log-every 50 --num-workers "$W")
# SIGINT at the deadline (timeout then exits 124): the last checkpoint is what gets exported below
timeout -s INT "$T" "$PY" -m reference.train_edit_adapter "${COMMON[@]}" --output-dir "$EDIT" \
    --init-adapter "$M/edit_adapter" --batch-size "$EB" "${EDIT_EXTRA[@]}" > "$OUT/edit.log" 2>&1 &
EDIT_PID=$!
timeout -s INT "$T" "$PY" -m reference.train_video_adapter "${COMMON[@]}" --output-dir "$VIDEO" \
    --init-adapter "$M/video_adapter" --batch-size "$VB" --first-frame-dropout 0.5 --style-share 0.25 \
    "${VIDEO_EXTRA[@]}" > "$OUT/video.log" 2>&1 &
VIDEO_PID=$!
FAILED=""
for pid_log in "$EDIT_PID:edit" "$VIDEO_PID:video"; do  # both are waited for, then reported
  rc=0; wait "${pid_log%%:*}" || rc=$?
  [[ $rc -eq 0 || $rc -eq 124 ]] || FAILED+=" ${pid_log#*:} (exit $rc, $OUT/${pid_log#*:}.log)"
done
if [[ -n "$FAILED" ]]; then echo "training failed:$FAILED" >&2; exit 1; fi
"$PY" -m reference.train_edit_adapter --weights "$M" --output-dir "$EDIT" --export-only >> "$OUT/edit.log" 2>&1
"$PY" -m reference.train_video_adapter --weights "$M" --output-dir "$VIDEO" --export-only >> "$OUT/video.log" 2>&1
tail -n 1 "$EDIT/loss.jsonl" "$VIDEO/loss.jsonl"
