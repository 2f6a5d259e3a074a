"""A receiver killed between events (SIGKILL) loses no acknowledged event; the next one appends after them."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tap_hrdata.webhooks.journal import JournalReader
from tests.webhooks.conftest import SECRET

ROOT = Path(__file__).resolve().parents[2]


def start(config: Path, port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """``tap-hrdata-webhooks serve --port PORT`` in a subprocess (0: any free port), and the URL it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tap_hrdata.webhooks", "--config", str(config), "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the receiver did not start: {line!r} {err}")
    return process, match[1]


def deliver(url: str, event_id: str) -> int:
    body = {"eventId": event_id, "event": "vacancy_update", "data": {"reference": f"VAC-{event_id}"}}
    return requests.post(f"{url}/talentsoft/{SECRET}", data=json.dumps(body), timeout=10).status_code


def keys(journal: Path) -> list[Any]:
    return [entry.fields["event_key"] for entry in JournalReader(journal).entries()]


def test_a_killed_receiver_loses_no_acknowledged_event(tmp_path: Path) -> None:
    files = tmp_path / "files"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"files_storage_url": str(files), "talentsoft": {"webhook_secret": SECRET}}))
    journal = files / "webhooks" / "talentsoft" / "events.jsonl"

    process, url = start(config)
    try:
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        assert [deliver(url, f"e{i}") for i in range(1, 4)] == [200, 200, 200]
    finally:
        process.send_signal(signal.SIGKILL)  # no shutdown, no flush: only what was synced survives
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert keys(journal) == ["e1", "e2", "e3"]

    # a crash in the middle of the next append would have left a torn line: never acknowledged
    with journal.open("ab") as handle:
        handle.write(b'{"v":1,"vendor":"talentsoft","event":"vacancy_upd')

    process, url = start(config)
    try:
        assert deliver(url, "e4") == 200
        assert keys(journal) == ["e1", "e2", "e3", "e4"]  # appended after the acknowledged ones, the torn line cut
        # the same receiver again, while this one runs, is refused: one writer per journal
        second = subprocess.run(
            [sys.executable, "-m", "tap_hrdata.webhooks", "--config", str(config), "serve", "--port", "0"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert "held by another receiver" in second.stderr
        assert deliver(url, "e5") == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "stopped" in err
    assert SECRET not in err
    entries = list(JournalReader(journal).entries())
    assert [entry.fields["event_key"] for entry in entries] == ["e1", "e2", "e3", "e4", "e5"]
    assert entries[-1].position == journal.stat().st_size
