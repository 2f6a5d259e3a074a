"""Fixtures of the webhook tests: a receiver served by waitress in a thread, and Talentsoft with its system API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import waitress

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.journal import JournalReader, JournalWriter, journal_path
from tap_hrdata.webhooks.receiver import Receiver, configured_hooks
from tests.emulator.talentsoft import TalentsoftEmulator

SECRET = "s3cret-token-0123456789abcdef"


#: The Talentsoft emulator serves the system API (webhooks) itself (tests/emulator/talentsoft_system.py).
WiredTalentsoft = TalentsoftEmulator


@dataclass
class Served:
    """A running receiver: its URL, its journal, and the config it was built from."""

    url: str
    journal: Path
    config: dict[str, Any]
    app: Receiver

    def entries(self) -> list[dict[str, Any]]:
        return [entry.fields for entry in JournalReader(self.journal).entries()]

    def journal_bytes(self) -> bytes:
        return self.journal.read_bytes() if self.journal.exists() else b""


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Served]:
    """A receiver for Talentsoft on 127.0.0.1 (an ephemeral port), its journal under tmp_path."""
    config = {"files_storage_url": str(tmp_path / "files"), "talentsoft": {"webhook_secret": SECRET}}
    hooks = configured_hooks(config)
    logger = logging.getLogger("tap-hrdata-webhooks")
    path = journal_path(FileStorage(config["files_storage_url"]), "talentsoft")
    journal = JournalWriter(path, logger).open()
    app = Receiver(hooks, {"talentsoft": journal}, logger)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}", path, config, app)
    finally:
        # closed from the loop's own thread (closing its sockets from here races its poll)
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(10)
        server.task_dispatcher.shutdown()
        journal.close()
