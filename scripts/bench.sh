#!/usr/bin/env bash
# The benchmark, one command: installs the bench extra into .venv, runs `python -m benchmarks`
# (about 9 minutes, the WAN cases at 50 ms included; pass --quick for a two-minute run), rewrites BENCHMARKS.md and the chart.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
python -m pip install --quiet -e '.[dev,bench]'
python -m benchmarks "$@"
