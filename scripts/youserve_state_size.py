"""STATE bytes a YouServe sync writes for one payslip batch (files sharing one upload date).

    python scripts/youserve_state_size.py [files ...]      # default: 2000 6000

Runs ``python -m tap_hrdata`` of this checkout as a subprocess against the emulator (a
thread of this process) and counts the STATE lines as they stream by, so even the
quadratic STATE of earlier versions (hundreds of MB) is measured without being held.
Prints, per group size: files, STATE messages, total and largest STATE bytes, seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import config_for, mount  # noqa: E402  # the checkout's own helpers
from tests.emulator.server import Emulator  # noqa: E402
from tests.emulator.youserve import YouserveEmulator  # noqa: E402

BATCH_DATE = "2026-03-31T17:00:00.000Z"


def measure(emulator: Emulator, files: int, workdir: Path) -> dict[str, float]:
    """One full sync of ``files`` files of one upload date: what its STATE output cost."""
    vendor = mount(emulator, YouserveEmulator(files=[]))
    for number in range(files):
        vendor.add_file(f"payslip_{number:05d}.pdf", 7101, 10, BATCH_DATE)
    config = config_for(emulator, vendor, files=workdir / f"files-{files}", youserve={"page_size": 1000})
    config_path = workdir / f"config-{files}.json"
    config_path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_hrdata", "--config", str(config_path)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    states = total = largest = records = 0
    # this checkout's own tap, with a config this script wrote
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, env=env) as tap:  # noqa: S603
        for line in tap.stdout or ():
            if line.startswith(b'{"type":"STATE"'):
                states += 1
                total += len(line)
                largest = max(largest, len(line))
            elif line.startswith(b'{"type":"RECORD"'):
                records += 1
    if tap.returncode != 0 or records != files:
        msg = f"the sync failed (exit {tap.returncode}, {records} of {files} records)"
        raise RuntimeError(msg)
    return {"states": states, "total": total, "largest": largest, "seconds": time.monotonic() - started}


def main() -> None:
    """Measure each group size given on the command line."""
    sizes = [int(arg) for arg in sys.argv[1:]] or [2000, 6000]
    emulator = Emulator([])
    emulator.start()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            header = ("files", 7), ("STATE msgs", 10), ("STATE bytes", 14), ("largest", 10), ("bytes/file", 10)
            print(" ".join(f"{name:>{width}}" for name, width in header), f"{'seconds':>8}")
            for files in sizes:
                m = measure(emulator, files, Path(workdir))
                print(
                    f"{files:>7} {m['states']:>10.0f} {m['total']:>14,.0f} {m['largest']:>10,.0f} "
                    f"{m['total'] / files:>10,.1f} {m['seconds']:>8.1f}"
                )
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
