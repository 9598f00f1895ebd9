#!/usr/bin/env bash
# Set up (if needed) and open the neurofb desktop app on its embedded default source
# (the shipped real-EEG demo recording; no headset needed). Extra arguments go to `neurofb app`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/neurofb app "$@"
