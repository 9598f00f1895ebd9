#!/usr/bin/env bash
# Reproduce models/focus-default (the shipped focus model) from the 24 eegmat subjects, in one
# command:
#
#   scripts/train_default.sh [EEGMAT_DIR]
#
# 1. The cross-validation (scripts/cv_default.sh): repeated 6-fold leave-subjects-out CV, fold
#    seeds 0, 1, 2, of the whole shipping procedure, in cold, baseline (60 s) and calibrated
#    (30 s rest + 20 s task) modes, on the full, Cyton-like and Muse-like layouts, against band
#    power + LR, a deviation control and BrainFlow concentration. -> .data/cv-default.json
#    (+ .npz out-of-fold scores, .md tables). About an hour on one CPU core.
# 2. The shipped model: the same recipe on all 24 subjects — the cold and the baseline
#    ensembles of 5 members — with the cross-validation recorded in model.json.
#    -> models/focus-default/ (a few minutes on one CPU core)
# 3. Its measured cost (neurofb bench model: ms per window, the int8 graph's AUC change)
#    recorded in model.json (scripts/card_figures.py).
#
# Uses CUDA (mixed precision) when available, else the CPU. Features of the eegmat windows are
# cached in .data/cache (git-ignored). Set OUT to write the model elsewhere, SKIP_CV=1 to reuse
# an existing .data/cv-default.json.
set -euo pipefail
cd "$(dirname "$0")/.."
EEGMAT="${1:-${NEUROFB_EEGMAT:-../shared/data/eegmat}}"
OUT="${OUT:-models/focus-default}"
PY="${PYTHON:-.venv/bin/python}"
export OMP_NUM_THREADS=1
if [ "${SKIP_CV:-}" != "1" ] || [ ! -f .data/cv-default.json ]; then
  bash scripts/cv_default.sh "$EEGMAT"
fi
"$PY" -m neurofb train --eegmat "$EEGMAT" --seed 0 --cache .data/cache \
    --metrics .data/cv-default.json --name focus-default --out "$OUT" --overwrite
# 3. Its cost: inference per window, and the int8 graph's size, speed and AUC change.
NEUROFB_EEGMAT="$EEGMAT" "$PY" -m neurofb bench model --model "$OUT" --json \
    > .data/bench-model.json
"$PY" scripts/card_figures.py "$OUT" .data/bench-model.json > /dev/null
echo "wrote $OUT; cross-validation details in .data/cv-default.json (.md: the tables)"
