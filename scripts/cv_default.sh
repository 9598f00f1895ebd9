#!/usr/bin/env bash
# The cross-validation behind models/focus-default's figures (model card, model.json, README):
# repeated 6-fold leave-subjects-out CV (fold seeds 0, 1, 2 = 18 folds) of the whole shipping
# procedure, all three modes (cold, baseline 60 s, calibrated 30 s rest + 20 s task), the
# full, Cyton-like and Muse-like layouts, against band power + LR, the deviation control and
# BrainFlow concentration in the same run. About an hour on one CPU core.
#
#   scripts/cv_default.sh [EEGMAT_DIR]   ->  .data/cv-default.json (+ .npz scores, .md tables)
set -euo pipefail
cd "$(dirname "$0")/.."
EEGMAT="${1:-${NEUROFB_EEGMAT:-../shared/data/eegmat}}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p .data
export OMP_NUM_THREADS=1
"$PY" -m neurofb evaluate --cv 6 --cv-seeds 0,1,2 --baseline 60 --calibrate --montage all \
    --eegmat "$EEGMAT" --cache .data/cache --out .data/cv-default.json --force --json \
    > /dev/null
echo "cross-validation: .data/cv-default.json, tables in .data/cv-default.md"
