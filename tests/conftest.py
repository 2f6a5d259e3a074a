"""Shared fixtures: one emulator server per session, fresh vendors per test, an in-process tap runner."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_hrdata.http.client import VendorClient
from tap_hrdata.http.retry import RetryPolicy
from tap_hrdata.sources.youserve.client import YouserveClient
from tap_hrdata.tap import TapHrData
from tests.emulator.server import Emulator

#: Retries after milliseconds in tests (Retry-After is still obeyed), so failures cost no time.
FAST_RETRIES = RetryPolicy(base_seconds=0.01, max_seconds=0.05)


@dataclass
class SyncResult:
    """The Singer messages one run wrote, with helpers to look at them."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def streams(self) -> set[str]:
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def text(self) -> str:
        return "\n".join(json.dumps(m) for m in self.messages)


@contextmanager
def captured_stdout() -> Iterator[io.BytesIO]:
    """Capture what the SDK's writer sends to sys.stdout.buffer."""
    raw = io.BytesIO()
    wrapper = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    previous = sys.stdout
    sys.stdout = wrapper
    try:
        yield raw
    finally:
        sys.stdout = previous


def run_tap(config: dict[str, Any], state: dict[str, Any] | None = None, catalog: dict | None = None) -> SyncResult:
    """Run a whole sync in-process and return the messages it wrote."""
    result = SyncResult()
    with captured_stdout() as raw:
        try:
            tap = TapHrData(config=config, state=state or {}, catalog=catalog)
            tap.sync_all()
        finally:
            result.messages = [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]
    return result


def run_tap_partial(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[SyncResult, BaseException]:
    """Run a sync expected to fail; return what it wrote before failing, and the error."""
    result = SyncResult()
    with captured_stdout() as raw:
        try:
            TapHrData(config=config, state=state or {}).sync_all()
        except Exception as exc:
            error: BaseException = exc
        else:
            pytest.fail("the sync was expected to fail")
        finally:
            result.messages = [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]
    return result, error


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="also run the long loops (tests marked long), as CI does")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` run with ``--long`` or ``TAP_HRDATA_LONG_TESTS=1`` (CI sets it)."""
    if config.getoption("--long") or os.environ.get("TAP_HRDATA_LONG_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="long: run with --long or TAP_HRDATA_LONG_TESTS=1 (CI does)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client of every test retries after milliseconds (tests of the policy build their own)."""
    monkeypatch.setattr(VendorClient, "retry_policy", FAST_RETRIES)
    # YouServe's spike arrest: a minute's wait and a minute of slow calls after a 429, in milliseconds
    monkeypatch.setattr(YouserveClient, "spike_arrest_seconds", 0.05)
    monkeypatch.setattr(YouserveClient, "calm_interval_seconds", 0.001)


_test_files: Path | None = None


@pytest.fixture(autouse=True)
def own_files_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test's files (and Coresignal's journal) under a folder of its own, never the repo's output/."""
    global _test_files  # noqa: PLW0603  # read by config_for, a plain function the tests call
    _test_files = tmp_path_factory.mktemp("files")
    yield
    _test_files = None


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One HTTP server on 127.0.0.1 for the session; tests mount fresh vendors on it."""
    server = Emulator([])
    server.start()
    yield server
    server.stop()


def config_for(emulator: Emulator, *vendors: Any, files: Path | str | None = None, **blocks: Any) -> dict[str, Any]:
    """A tap config pointing each source at its vendor on ``emulator``; ``blocks`` add to a source's settings.

    ``config_for(emulator, vendor, files=tmp_path, talentsoft={"page_size": 3})``
    """
    files = files if files is not None else _test_files
    config: dict[str, Any] = {} if files is None else {"files_storage_url": str(files)}
    for vendor in vendors:
        config[vendor.source] = {**vendor.tap_settings(emulator.url(vendor.prefix)), **blocks.pop(vendor.source, {})}
    return {**config, **blocks}


def assert_no_client_secret(vendor: Any, text: str) -> None:
    """Neither an OAuth vendor's client secret nor any token it issued appears in ``text``."""
    assert vendor.client_secret not in text
    assert vendor.issued_tokens  # the check below is not vacuous
    assert not any(token in text for token in vendor.issued_tokens)


def current_generation(emulator: Emulator, source: str, tmp_path: Path) -> dict[str, Any]:
    """A fresh vendor of ``source`` serving its current generation, and the tap config for it.

    Talentsoft's real export shapes, HrFlow's Storing API and current objects, Visma Connect
    sign-in and the Youforce host, Coresignal's v2 API.
    """
    from tests.emulator.coresignal import CoresignalEmulator
    from tests.emulator.hrflow import HrflowEmulator
    from tests.emulator.talentsoft import TalentsoftEmulator
    from tests.emulator.youserve import YouserveEmulator

    files = tmp_path / "files"
    if source == "talentsoft":
        vendor = mount(emulator, TalentsoftEmulator(vacancies=12, candidates=8, shape="current"))
        return config_for(
            emulator, vendor, files=files, talentsoft={"referential_categories": ["countries", "languages"]}
        )
    if source == "hrflow":
        vendor = mount(emulator, HrflowEmulator(shape="current", unindexed_profiles=2))
        return config_for(emulator, vendor, files=files)
    if source == "youserve":
        vendor = mount(emulator, YouserveEmulator())
        return config_for(emulator, vendor.youforce, files=files)
    vendor = mount(emulator, CoresignalEmulator(jobs=300, polls_until_ready=0))
    return config_for(emulator, vendor, coresignal={"api_token": None, "api_key": vendor.api_key})


def mount(emulator: Emulator, vendor: Any) -> Any:
    """Replace the vendor mounted at ``vendor.prefix`` (a fresh one per test), with all its hosts.

    A vendor served from several hosts (YouServe: its own, Visma Connect's token endpoint,
    the Youforce File API) lists them in ``hosts()``; each is mounted at its prefix.
    """
    hosts = list(vendor.hosts()) if hasattr(vendor, "hosts") else [vendor]
    prefixes = {host.prefix for host in hosts}
    emulator.vendors[:] = [v for v in emulator.vendors if v.prefix not in prefixes] + hosts
    return vendor
