#!/usr/bin/env bash
# Reproduce models/focus-default (the shipped focus model) from the 24 eegmat subjects.
#
#   scripts/train_default.sh [EEGMAT_DIR]
#
# 1. 6-fold leave-subjects-out cross-validation: per fold the recipe is chosen among the
#    candidates (neurofb.training.evaluate.RECIPES["grid"]) by inner validation on the training
#    subjects only, the model trained, and compared on the held-out subjects with band powers +
#    logistic regression and BrainFlow's mindfulness model, for the full, Cyton and Muse layouts,
#    without and with calibration (30 s rest + 20 s task per subject). -> .data/cv-default.json
# 2. The shipped model: recipe chosen the same way on all 24 subjects, trained on all of them
#    (4 held out for early stopping), cross-validation results and an FGSM/PGD robustness
#    report recorded in model.json. -> models/focus-default/
#
# Uses CUDA (mixed precision) when available, else the CPU. Preprocessed windows are cached in
# .data/cache (git-ignored). Set OUT to write the model elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
EEGMAT="${1:-${NEUROFB_EEGMAT:-../shared/data/eegmat}}"
OUT="${OUT:-models/focus-default}"
PY="${PYTHON:-.venv/bin/python}"
CACHE=.data/cache
mkdir -p .data

"$PY" -m neurofb evaluate --cv 6 --cv-seed 0 --eegmat "$EEGMAT" --recipes grid --montage all \
    --calibrate --seed 0 --cache "$CACHE" --out .data/cv-default.json
"$PY" -m neurofb train --eegmat "$EEGMAT" --recipes grid --seed 0 --cache "$CACHE" \
    --metrics .data/cv-default.json --robustness --name focus-default --out "$OUT" --overwrite
echo "wrote $OUT; cross-validation details in .data/cv-default.json"
