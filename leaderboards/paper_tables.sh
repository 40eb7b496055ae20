#!/usr/bin/env bash
# Regenerates leaderboards/paper/: EVE's Tables 1 and 2 in the paper's layout (docs/paper_tables.md).
# Usage (from the repo root): bash leaderboards/paper_tables.sh [RUNS_DIR]
# It makes no run: it reads the run folders below (leaderboards/generate.sh makes the baselines;
# the student and its ablations come from `eve-bench run --model eve ...`). A folder that does not
# exist yet is listed in the tables as not run. Override any folder through its variable, e.g.
#   EVE_RUN=runs/my-student bash leaderboards/paper_tables.sh
set -euo pipefail
RUNS=${1:-runs/leaderboards}
SYNTH=${SYNTH:-$RUNS/synth-reference}
OUT=${OUT:-leaderboards/paper}

# Table 1 on synth: the EVE student first, then the runs it is compared with.
EVE_RUN=${EVE_RUN:-$SYNTH/eve}
IDENTITY_RUN=${IDENTITY_RUN:-$SYNTH/identity}
PER_FRAME_EDIT_RUN=${PER_FRAME_EDIT_RUN:-$SYNTH/per_frame_edit}
VIDEO_SDEDIT_RUN=${VIDEO_SDEDIT_RUN:-$SYNTH/video_sdedit}
PLUG_AND_PLAY_RUN=${PLUG_AND_PLAY_RUN:-$SYNTH/plug_and_play}
# Table 2: full EVE against each ablation. "w/o alignment" is plug-and-play: the adapters with no FDD.
RANDOM_INIT_RUN=${RANDOM_INIT_RUN:-$SYNTH/eve_random_init}
NO_SDS_RUN=${NO_SDS_RUN:-$SYNTH/eve_no_sds}
NO_DISC_RUN=${NO_DISC_RUN:-$SYNTH/eve_no_disc}
NO_KBIN_RUN=${NO_KBIN_RUN:-$SYNTH/eve_no_kbin}
# Table 2 per training seed: full EVE and w/o discriminators of seeds 0, 1, 2 (a seed without runs is listed as not run).
SEED_PAIRS=()
for seed in 0 1 2; do
  suffix=""; [ "$seed" = 0 ] || suffix=_seed$seed
  SEED_PAIRS+=("no_discriminators:$seed=$SYNTH/eve$suffix,$SYNTH/eve_no_disc$suffix")
done
# Measured runs on TGVE / TGVE+ to put beside the published rows (space-separated; none by default).
TGVE_RUNS=${TGVE_RUNS:-}
TGVE_PLUS_RUNS=${TGVE_PLUS_RUNS:-}

# --validity-videos: the preference criteria checked on graded outputs of 4 synth videos (28 samples).
# shellcheck disable=SC2086  # TGVE_RUNS / TGVE_PLUS_RUNS are lists
eve-bench paper-tables --out "$OUT" --validity-videos 4 \
  --eve "$EVE_RUN" \
  --synth "$IDENTITY_RUN" "$PER_FRAME_EDIT_RUN" "$VIDEO_SDEDIT_RUN" "$PLUG_AND_PLAY_RUN" \
  --ablation "random_init=$RANDOM_INIT_RUN" "no_alignment=$PLUG_AND_PLAY_RUN" "no_sds=$NO_SDS_RUN" \
             "no_discriminators=$NO_DISC_RUN" "no_kbin=$NO_KBIN_RUN" \
  --seed-pair "${SEED_PAIRS[@]}" \
  --tgve $TGVE_RUNS --tgve-plus $TGVE_PLUS_RUNS
