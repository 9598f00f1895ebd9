#!/usr/bin/env bash
# Set up (if needed) and run every check CI runs: ruff, the import contract, the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/python -m pytest -q -ra "$@"
