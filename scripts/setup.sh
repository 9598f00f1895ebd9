#!/usr/bin/env bash
# Create .venv and install neurofb with its test tools. Idempotent; safe to re-run.
# torch is pinned first to a release whose wheel is the CPU build on machines that have one
# on disk and the regular (CUDA-capable) build from PyPI elsewhere, so a GPU user gets CUDA.
# On a checkout already set up it returns at once: it installs only when pyproject.toml, this
# script or the venv's Python changed since the last successful set-up (.venv/.setup-stamp
# holds their hash). NEUROFB_SETUP=force re-installs anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
STAMP=.venv/.setup-stamp
stamp() { cat pyproject.toml scripts/setup.sh .venv/pyvenv.cfg 2>/dev/null | sha256sum | cut -d' ' -f1; }
if [ "${NEUROFB_SETUP:-}" != "force" ] && [ -x .venv/bin/python ] && [ -x .venv/bin/neurofb ] \
   && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp)" ]; then
  exit 0
fi
echo "setting up .venv (first run, or pyproject.toml changed); log in .venv/setup.log" >&2
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
LOG=.venv/setup.log
: > "$LOG"
# pip and setuptools are chatty (deprecation notes, editable-install banners): their output goes
# to the log, and is shown only when a step fails.
step() { if ! "$@" >> "$LOG" 2>&1; then cat "$LOG" >&2; return 1; fi; }
step .venv/bin/python -m pip install -q --upgrade "pip>=23.2"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  step .venv/bin/python -m pip install -q "torch==2.13.0" \
    || step .venv/bin/python -m pip install -q "torch>=2.3"
fi
step .venv/bin/python -m pip install -q -e ".[test]"
stamp > "$STAMP"
