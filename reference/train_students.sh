#!/usr/bin/env bash
# The synth EVE student and its Table 2 ablations, each with the same budget, for one or more
# training seeds. Resumable: re-run the same command and each run continues from its newest
# checkpoint; a finished run only re-exports its student.
#
#   SEEDS="0 1 2" VARIANTS="eve no_disc" OMP_NUM_THREADS=1 nohup bash reference/train_students.sh > runs/fdd/log 2>&1 &
#
# The budget is 600 iterations at one clip each (lr 1e-4). Full EVE and w/o discriminators share
# their first 300 iterations per seed (SDS only: runs/fdd/s<seed>/sds) and branch from its
# checkpoint (--init-from): EVE's discriminators then warm up for 100 iterations while the student
# still learns from SDS alone (its trajectory is the SDS-only one until it first sees D), and the
# student sees them for the last 200; w/o discriminators continues with SDS alone. The other
# ablations train alone: w/o K-bin like EVE with fixed rollout timesteps, w/o SDS with the
# discriminators only (they warm up for its first 100 iterations, the student idle), random init
# like EVE with fresh adapters. Every run draws its items and the teachers' samples from one
# teacher bank (reference.teacher_bank, made on first use).
#
# SEEDS: training seeds (the students of seed 0 are align/ and align_<variant>/ in WEIGHTS, the
# shipped checkpoint; of another seed N align_seedN/ and align_<variant>_seedN/; the shared phase
# exports its student into RUNS/s<seed>/weights, a copy of the checkpoint without students);
# VARIANTS: eve random_init no_sds no_disc no_kbin; RUNS: training state (default runs/fdd); PY: the
# interpreter. Extra arguments reach every train_fdd command.
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTS=${WEIGHTS:-reference/weights/synth}
RUNS=${RUNS:-runs/fdd}
SEEDS=${SEEDS:-0}
VARIANTS=${VARIANTS:-"eve no_disc no_kbin no_sds random_init"}
PY=${PY:-python}
STEPS=600
SHARED=300     # SDS-only iterations EVE and no_disc share per seed
SDS_ONLY=400   # the student first sees the discriminators here (they train from SDS_ONLY - 100)

fdd() {  # name output-dir weights seed [flags...]
  local name=$1 out=$2 weights=$3 seed=$4
  shift 4
  echo "== $name seed $seed -> $out $(date -u +%FT%TZ)"
  HF_HUB_OFFLINE=1 $PY -m reference.train_fdd --weights "$weights" --name "$name" --output-dir "$out" \
    --steps "$STEPS" --sds-only-steps "$SDS_ONLY" --batch-size 1 --lr 1e-4 --seed "$seed" \
    --first-frame-steps 10 --bank-root "$RUNS/bank" --checkpoint-every 25 "$@" "${EXTRA[@]}"
}
EXTRA=("$@")

for seed in $SEEDS; do
  copy=$RUNS/s$seed/weights  # the checkpoint without students: the shared phase exports here
  if [ ! -f "$copy/eve_config.json" ]; then
    mkdir -p "$copy"
    (cd "$WEIGHTS" && tar cf - --exclude='./align*' --exclude=./logs .) | (cd "$copy" && tar xf -)
  fi
  suffix=""
  [ "$seed" = 0 ] || suffix=_seed$seed
  shared=$RUNS/s$seed/sds
  for variant in $VARIANTS; do
    case $variant in
      eve|no_disc)
        ckpt=$(printf "%s/checkpoints/step_%07d" "$shared" "$SHARED")
        if [ ! -f "$ckpt/trainer.json" ]; then  # the shared SDS-only phase, stopped where D would start
          STEPS=$SHARED fdd align_sds "$shared" "$copy" "$seed"
        fi
        if [ "$variant" = eve ]; then
          fdd "align$suffix" "$RUNS/s$seed/align" "$WEIGHTS" "$seed" --init-from "$ckpt"
        else
          fdd "align_no_disc$suffix" "$RUNS/s$seed/align_no_disc" "$WEIGHTS" "$seed" --init-from "$ckpt" --no-adversarial
        fi ;;
      no_kbin) fdd "align_no_kbin$suffix" "$RUNS/s$seed/align_no_kbin" "$WEIGHTS" "$seed" --no-kbin ;;
      no_sds) fdd "align_no_sds$suffix" "$RUNS/s$seed/align_no_sds" "$WEIGHTS" "$seed" --no-sds ;;
      random_init) fdd "align_random_init$suffix" "$RUNS/s$seed/align_random_init" "$WEIGHTS" "$seed" --random-init ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
  done
done
