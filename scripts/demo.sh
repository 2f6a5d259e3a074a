#!/usr/bin/env bash
# The main job, credentials-free: start the vendor emulator, run
# `meltano run tap-hrdata target-duckdb` in the demo environment, print what landed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
PORT=8765
python -m tests.emulator --port "$PORT" 2>/dev/null &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true' EXIT
python - "$PORT" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the emulator did not start")
PY
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
meltano --environment=demo install --quiet 2>/dev/null || meltano --environment=demo install
rm -rf output/demo && mkdir -p output/demo
meltano --environment=demo run --full-refresh tap-hrdata target-duckdb
python scripts/show_warehouse.py output/demo/warehouse.duckdb
