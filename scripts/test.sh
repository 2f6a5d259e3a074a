#!/usr/bin/env bash
# Run the test suite (installs everything it needs into .venv first).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ruff check .
ruff format --check .
mypy
python -m pytest -q "$@"
