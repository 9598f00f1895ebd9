#!/usr/bin/env bash
# Create .venv and install neurofb with its test tools. Idempotent; safe to re-run.
# torch is pinned first to a release whose wheel is the CPU build on machines that have one
# on disk and the regular (CUDA-capable) build from PyPI elsewhere, so a GPU user gets CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
# pip warns about every local index folder it does not find; keep the log readable.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
quiet .venv/bin/python -m pip install -q --upgrade "pip>=23.2"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  quiet .venv/bin/python -m pip install -q "torch==2.13.0" || quiet .venv/bin/python -m pip install -q "torch>=2.3"
fi
quiet .venv/bin/python -m pip install -q -e ".[test]"
