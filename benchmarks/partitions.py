"""The partitioned backfill case: ``python -m benchmarks --cases partitions`` (or ``python -m benchmarks.partitions``).

The same backfill of one source, behind an emulator that answers every request
``LATENCY`` late: once as one unpartitioned run (1 worker), once as the 4 partitions
``tap-hrdata --list-partitions`` prints, run as 4 processes at once (what the Dagster
code location's multiprocess executor does with ``max_concurrent: 4``). The tap writes
to /dev/null (no loader), so the numbers are the tap's. Prints a Markdown section.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.harness import Run, measure

ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.05
WORKERS = 4
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
SOURCES = ("coresignal", "youserve")
CORESIGNAL_JOBS = 40_000
YOUSERVE_FILES = 800


def _tap() -> str:
    return str(Path(sys.executable).parent / "tap-hrdata")


def _vendors() -> tuple:
    from tests.emulator.coresignal import CoresignalEmulator
    from tests.emulator.hrflow import HrflowEmulator
    from tests.emulator.talentsoft import TalentsoftEmulator
    from tests.emulator.youserve import YouserveEmulator

    vendors = (
        TalentsoftEmulator(vacancies=1, candidates=1, shape="current"),
        HrflowEmulator(shape="current"),
        YouserveEmulator(),
        CoresignalEmulator(jobs=CORESIGNAL_JOBS, polls_until_ready=2),
    )
    span = datetime.now(timezone.utc) - START
    for index in range(YOUSERVE_FILES):  # YouServe files spread over the whole backfill
        uploaded = START + span * (index + 0.5) / YOUSERVE_FILES
        vendors[2].add_file(f"spread_{index}.xml", 7101, 20_000, uploaded + timedelta(seconds=index))
    return vendors


def _config(emulator: Any, vendors: tuple, source: str, files: Path) -> dict[str, Any]:
    from tests.emulator.__main__ import tap_config

    config = tap_config(emulator, vendors, str(files))
    for other in ("talentsoft", "hrflow", "youserve", "coresignal"):
        if other != source:
            del config[other]
    config["start_date"] = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    days = (datetime.now(timezone.utc) - START).days + 1
    config["partition_days"] = math.ceil(days / WORKERS)  # WORKERS windows, the last open-ended
    return config


def _run(config: dict[str, Any], workdir: Path, label: str) -> Run:
    path = workdir / f"{label}.json"
    path.write_text(json.dumps(config))
    run = measure([_tap(), "--config", str(path)], stderr=str(workdir / f"{label}.log"))
    if run.exit_code != 0:
        msg = f"tap-hrdata failed ({label}): see {workdir / f'{label}.log'}"
        raise RuntimeError(msg)
    return run


def measure_source(source: str, workdir: Path) -> list[dict[str, Any]]:
    """One unpartitioned run, then the partitions 4 at once: wall time, calls, peak RSS per worker."""
    from tests.emulator.__main__ import hosts
    from tests.emulator.server import Emulator

    rows = []
    for workers in (1, WORKERS):
        vendors = _vendors()  # a fresh emulator each time: nothing downloaded or bought before
        emulator = Emulator(hosts(vendors), latency_seconds=LATENCY).start()
        try:
            config = _config(emulator, vendors, source, workdir / f"files-{source}-{workers}")
            if workers == 1:
                configs = [config]
            else:
                listing = workdir / f"{source}-list.json"
                listing.write_text(json.dumps(config))
                import subprocess

                printed = subprocess.run(
                    [_tap(), "--config", str(listing), "--list-partitions"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                partitions = [json.loads(line)["partition"] for line in printed.stdout.splitlines() if line.strip()]
                partitions = [p for p in partitions if p["source"] == source]
                configs = [{**config, "partition": p} for p in partitions]
            before = sum(emulator.requests().values())
            started = time.perf_counter()
            labels = [f"{source}-{workers}-{index}" for index in range(len(configs))]
            with ThreadPoolExecutor(max_workers=workers) as pool:
                runs = list(pool.map(lambda c, label: _run(c, workdir, label), configs, labels))
            wall = time.perf_counter() - started
            calls = sum(emulator.requests().values()) - before
        finally:
            emulator.stop()
        rows.append(
            {
                "source": source,
                "workers": workers,
                "partitions": len(configs),
                "seconds": wall,
                "calls": calls,
                "peak_rss_mb": max(r.peak_rss_bytes for r in runs) / 1e6,
                "cpu_seconds": sum(r.cpu_seconds for r in runs),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        "## Partitioned backfill: 1 worker against 4",
        "",
        f"Measured by `python -m benchmarks --cases partitions` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({os.cpu_count()} logical cores). One source's backfill "
        f"from {START:%Y-%m-%d}, every answer {LATENCY * 1000:g} ms late: one unpartitioned run, then the "
        f"{WORKERS} partitions `tap-hrdata --list-partitions` prints ({WORKERS} date windows, the last open-ended), "
        f"{WORKERS} processes at once as the Dagster code location's multiprocess executor runs them. The tap "
        "writes to /dev/null (no loader: the numbers are the tap's).",
        "",
        "| Source | Workers | Partitions | Time (s) | Speed-up | Calls | Peak RSS per worker (MB) "
        "| CPU, all workers (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    single = {r["source"]: r["seconds"] for r in rows if r["workers"] == 1}
    for r in rows:
        speedup = single[r["source"]] / r["seconds"]
        lines.append(
            f"| {r['source']} | {r['workers']} | {r['partitions']} | {r['seconds']:.2f} | {speedup:.2f}x | "
            f"{r['calls']} | {r['peak_rss_mb']:.0f} | {r['cpu_seconds']:.2f} |"
        )
    lines += [
        "",
        "Coresignal: 40,000 jobs (`title: engineer` buys about a fifth), each data request ready after 2 polls "
        "(`poll_interval_seconds: 1`); one request per window, so the windows' polls overlap. YouServe: the demo "
        "files plus 800 files of 20 kB spread over the whole period. *Calls* are the requests the emulator "
        "answered; time is the wall time from the first worker's start to the last one's exit.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str, out: Path) -> None:
    """Replace (or append) this case's section of BENCHMARKS.md, leaving the rest as it is."""
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    title = section.splitlines()[0]
    if title in text:
        head, _, rest = text.partition(title)
        following = rest.find("\n## ")
        text = head + section + (rest[following + 1 :] if following >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def main(out: Path | None = None) -> int:
    """Measure, print the section, and put it in BENCHMARKS.md."""
    with tempfile.TemporaryDirectory(prefix="tap-hrdata-partitions-") as tmp:
        rows = [row for source in SOURCES for row in measure_source(source, Path(tmp))]
    section = markdown(rows)
    print(section)
    write_section(section, out or ROOT / "BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
