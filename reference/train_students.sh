#!/usr/bin/env bash
# The synth EVE student and its Table 2 ablations, one after another, each with the same budget and
# seed (the shipped students were made with exactly this). Resumable: re-run the same command and
# each run continues from its newest checkpoint; a finished run only re-exports its student.
#
#   VARIANTS="eve no_disc" OMP_NUM_THREADS=1 nohup bash reference/train_students.sh > runs/fdd/log 2>&1 &
#
# WEIGHTS: the checkpoint the students are written into (default: the shipped one); RUNS: training
# state (default runs/fdd); STEPS / SDS_ONLY / BATCH / LR / SEED: the budget; PY: the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTS=${WEIGHTS:-reference/weights/synth}
RUNS=${RUNS:-runs/fdd}
VARIANTS=${VARIANTS:-"eve random_init no_sds no_disc no_kbin"}
STEPS=${STEPS:-600}
SDS_ONLY=${SDS_ONLY:-400}
BATCH=${BATCH:-1}
LR=${LR:-1e-4}
SEED=${SEED:-0}
PY=${PY:-python}

for variant in $VARIANTS; do
  case $variant in
    eve) name=align; flags="" ;;
    random_init) name=align_random_init; flags="--random-init" ;;
    no_sds) name=align_no_sds; flags="--no-sds" ;;
    no_disc) name=align_no_disc; flags="--no-adversarial" ;;
    no_kbin) name=align_no_kbin; flags="--no-kbin" ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  echo "== $variant ($name) $(date -u +%FT%TZ)"
  # shellcheck disable=SC2086
  HF_HUB_OFFLINE=1 $PY -m reference.train_fdd --weights "$WEIGHTS" --name "$name" --output-dir "$RUNS/$name" \
    --steps "$STEPS" --sds-only-steps "$SDS_ONLY" --batch-size "$BATCH" --lr "$LR" --seed "$SEED" \
    --teacher-sample-steps 6 --first-frame-steps 10 --checkpoint-every 25 $flags
done
