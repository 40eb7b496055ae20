#!/usr/bin/env bash
# The full recipe for the reference `synth` model: backbone (VAE, then text-to-image), then the
# two adapters on the frozen backbone. Every stage checkpoints and resumes: re-running this script
# continues where it stopped (finished stages resume at their last step and only re-export).
#
#   ROOT=/tmp/eve_synth SEED=0 nohup bash reference/train_synth.sh > /tmp/eve_synth.log 2>&1 &
#
# Steps and learning rates per stage: VAE_STEPS, T2I_STEPS, EDIT_STEPS, VIDEO_STEPS, VAE_LR, T2I_LR,
# EDIT_LR, VIDEO_LR (defaults below); extra arguments go to every stage. PARALLEL_ADAPTERS=1 trains
# the two adapters side by side (each needs only the frozen backbone), each with half the threads
# of OMP_NUM_THREADS, so that both make progress when the machine is only lent for a while.
# Weights land in $ROOT/model (an EVE checkpoint), training state and loss.jsonl in $ROOT/train/.
set -euo pipefail
ROOT=${ROOT:-runs/synth}
SEED=${SEED:-0}
PY=${PY:-python}
W="$ROOT/model"
# frequent checkpoints: a killed run (a CPU session ending) loses at most a few minutes
COMMON=(--seed "$SEED" --checkpoint-every 250 --log-every 25)

$PY -m reference.train_backbone --weights "$W" --preset synth --stage vae \
    --steps "${VAE_STEPS:-1500}" --batch-size 16 --lr "${VAE_LR:-2e-4}" --model-seed "$SEED" "${COMMON[@]}" "$@"
$PY -m reference.train_backbone --weights "$W" --stage t2i \
    --steps "${T2I_STEPS:-20000}" --batch-size 16 --lr "${T2I_LR:-2e-4}" "${COMMON[@]}" "$@"
edit() {
  $PY -m reference.train_edit_adapter --weights "$W" \
      --steps "${EDIT_STEPS:-20000}" --batch-size 16 --lr "${EDIT_LR:-1e-4}" "${COMMON[@]}" "$@"
}
video() {
  $PY -m reference.train_video_adapter --weights "$W" \
      --steps "${VIDEO_STEPS:-10000}" --batch-size 4 --lr "${VIDEO_LR:-1e-4}" "${COMMON[@]}" "$@"
}
if [[ "${PARALLEL_ADAPTERS:-0}" == 1 ]]; then
  half=$(( ${OMP_NUM_THREADS:-2} / 2 > 0 ? ${OMP_NUM_THREADS:-2} / 2 : 1 ))
  OMP_NUM_THREADS=$half edit "$@" & edit_pid=$!
  OMP_NUM_THREADS=$half video "$@" & video_pid=$!
  status=0
  wait "$edit_pid" || status=$?
  wait "$video_pid" || status=$?
  exit "$status"
fi
edit "$@"
video "$@"
