"""Fixtures of the webhook tests: a receiver served by waitress in a thread, and Talentsoft with its system API."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import waitress

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.journal import JournalReader, JournalWriter, journal_path
from tap_hrdata.webhooks.receiver import Listener, Receiver, configured_hooks
from tests.emulator.talentsoft import TalentsoftEmulator

SECRET = "s3cret-token-0123456789abcdef"
#: HrFlow's webhook secret (its signing key) and the Coresignal route's token, in the tests.
HRFLOW_SECRET = "hrflow-signing-key-0123456789"
CORESIGNAL_SECRET = "cs-route-token-0123456789abcd"


#: The Talentsoft emulator serves the system API (webhooks) itself (tests/emulator/talentsoft_system.py).
WiredTalentsoft = TalentsoftEmulator


@dataclass
class Served:
    """A running receiver: its URL, its journal, and the config it was built from."""

    url: str
    journal: Path
    config: dict[str, Any]
    app: Receiver
    #: Every vendor's journal (``journal`` is the first vendor's).
    journals: dict[str, Path] = field(default_factory=dict)

    def entries(self, vendor: str | None = None) -> list[dict[str, Any]]:
        path = self.journals[vendor] if vendor is not None else self.journal
        return [entry.fields for entry in JournalReader(path).entries()]

    def journal_bytes(self, vendor: str | None = None) -> bytes:
        path = self.journals[vendor] if vendor is not None else self.journal
        return path.read_bytes() if path.exists() else b""


@contextlib.contextmanager
def serve_receiver(config: dict[str, Any], listeners: Mapping[str, Listener] | None = None) -> Iterator[Served]:
    """The receiver of ``config``'s vendors on 127.0.0.1 (an ephemeral port), in a thread, until the block ends."""
    hooks = configured_hooks(config)
    logger = logging.getLogger("tap-hrdata-webhooks")
    storage = FileStorage(config["files_storage_url"])
    paths = {hook.name: journal_path(storage, hook.name) for hook in hooks}
    journals = {name: JournalWriter(path, logger).open() for name, path in paths.items()}
    app = Receiver(hooks, journals, logger, listeners=listeners)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        first = next(iter(paths.values()))
        yield Served(f"http://127.0.0.1:{server.effective_port}", first, config, app, paths)
    finally:
        # closed from the loop's own thread (closing its sockets from here races its poll)
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(10)
        server.task_dispatcher.shutdown()
        for journal in journals.values():
            journal.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Served]:
    """A receiver for Talentsoft on 127.0.0.1 (an ephemeral port), its journal under tmp_path."""
    config = {"files_storage_url": str(tmp_path / "files"), "talentsoft": {"webhook_secret": SECRET}}
    with serve_receiver(config) as served:
        yield served


@pytest.fixture
def all_receiver(tmp_path: Path) -> Iterator[Served]:
    """A receiver for Talentsoft, HrFlow and Coresignal, their journals under tmp_path."""
    config = {
        "files_storage_url": str(tmp_path / "files"),
        "talentsoft": {"webhook_secret": SECRET},
        "hrflow": {"webhook_secret": HRFLOW_SECRET},
        "coresignal": {"webhook_secret": CORESIGNAL_SECRET},
    }
    with serve_receiver(config) as served:
        yield served
