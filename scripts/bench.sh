#!/usr/bin/env bash
# The benchmark, one command: installs the bench extra into .venv, runs `python -m benchmarks`
# (about 6 minutes; pass --quick for a one-minute run), rewrites BENCHMARKS.md and the chart.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
python -m pip install --quiet -e '.[dev,bench]'
python -m benchmarks "$@"
