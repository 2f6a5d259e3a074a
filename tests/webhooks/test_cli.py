"""The subscription CLI against the emulator, the config it reads, and a subscription delivering to the receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.cli import main
from tap_hrdata.webhooks.config import ConfigError, load_config, webhook_secret
from tap_hrdata.webhooks.registry import HookRegistry
from tests.conftest import mount
from tests.emulator.server import Emulator
from tests.webhooks.conftest import SECRET, Served, WiredTalentsoft


@pytest.fixture
def talentsoft(emulator: Emulator) -> WiredTalentsoft:
    return mount(emulator, WiredTalentsoft(vacancies=3, candidates=2))


@pytest.fixture
def configured(tmp_path: Path, emulator: Emulator, talentsoft: WiredTalentsoft) -> Path:
    return write_config(tmp_path, emulator, talentsoft)


def write_config(tmp_path: Path, emulator: Emulator, vendor: WiredTalentsoft) -> Path:
    config = {
        "files_storage_url": str(tmp_path / "files"),
        "talentsoft": {**vendor.tap_settings(emulator.url(vendor.prefix)), "webhook_secret": SECRET},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def cli(config: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def registry(tmp_path: Path) -> list[dict[str, Any]]:
    return HookRegistry(FileStorage(str(tmp_path / "files")), "talentsoft").hooks()


def test_subscribe_list_unsubscribe(
    tmp_path: Path,
    emulator: Emulator,
    talentsoft: WiredTalentsoft,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(tmp_path, emulator, talentsoft)
    callback = "https://hooks.example.com/talentsoft/{secret}"
    code, out, err = cli(
        config,
        "talentsoft",
        "subscribe",
        "--event",
        "vacancy_new",
        "--callback-url",
        callback,
        "--ping-url",
        callback + "/ping",
        capsys=capsys,
    )
    assert code == 0, err
    hook_id = out.strip()
    [hook] = talentsoft.system.hooks.values()
    assert hook.hook_id == hook_id
    assert hook.event == "vacancy_new"
    assert hook.callback_url == f"https://hooks.example.com/talentsoft/{SECRET}"  # {secret} filled in for the vendor
    assert hook.ping_url == f"https://hooks.example.com/talentsoft/{SECRET}/ping"
    assert talentsoft.token_requests == 1
    [kept] = registry(tmp_path)
    assert kept["hook_id"] == hook_id
    assert kept["callback_url"] == "https://hooks.example.com/talentsoft/***"
    assert SECRET not in (tmp_path / "files/webhooks/talentsoft/hooks.json").read_text()
    assert SECRET not in out + err

    code, out, err = cli(config, "--config", str(config), "talentsoft", "list", capsys=capsys)
    assert code == 0, err
    assert out.splitlines()[0].split("\t")[:3] == [hook_id, "vacancy_new", "https://hooks.example.com/talentsoft/***"]

    code, out, err = cli(config, "talentsoft", "unsubscribe", hook_id, capsys=capsys)
    assert code == 0, err
    assert out.strip() == hook_id
    assert talentsoft.system.hooks == {}
    assert ("unsubscribe", hook_id, None) in talentsoft.system.calls
    assert registry(tmp_path) == []
    # a hook already gone there: a warning, not a failure
    code, out, err = cli(config, "talentsoft", "unsubscribe", hook_id, capsys=capsys)
    assert code == 0
    assert "not found there" in caplog.text  # the log goes to stderr (here, to pytest's capture)
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--event", "salary_paid"], "unknown event"),
        (["--callback-url", "https://hooks.example.com/talentsoft"], "must carry talentsoft.webhook_secret"),
        (["--callback-url", "http://hooks.example.com/talentsoft/{secret}"], "plain http"),
    ],
)
def test_subscribe_refuses_what_could_not_work(
    configured: Path, talentsoft: WiredTalentsoft, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    given = {"--event": "vacancy_new", "--callback-url": "https://h.example.com/talentsoft/{secret}"}
    given[args[0]] = args[1]
    flat = [item for pair in given.items() for item in pair]
    ping = ["--ping-url", "https://h.example.com/talentsoft/{secret}/ping"]
    code, _, err = cli(configured, "talentsoft", "subscribe", *flat, *ping, capsys=capsys)
    assert code == 1
    assert message in err
    assert SECRET not in err
    assert talentsoft.system.hooks == {}
    assert talentsoft.token_requests == 0


def test_refused_credentials_end_in_one_line(
    tmp_path: Path, emulator: Emulator, talentsoft: WiredTalentsoft, capsys: pytest.CaptureFixture[str]
) -> None:
    talentsoft.client_secret = "another-secret-0123456789"
    config = write_config(tmp_path, emulator, talentsoft)
    data = json.loads(config.read_text())
    data["talentsoft"]["client_secret"] = "wrong-secret-0123456789"
    config.write_text(json.dumps(data))
    code, _, err = cli(config, "talentsoft", "unsubscribe", "h-1", capsys=capsys)
    assert code == 1
    assert "client_id, client_secret" in err
    assert "wrong-secret-0123456789" not in err


def test_serve_needs_a_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"files_storage_url": str(tmp_path)}))
    code, _, err = cli(config, "serve", "--port", "0", capsys=capsys)
    assert code == 1
    assert "talentsoft.webhook_secret" in err
    config.write_text(json.dumps({"files_storage_url": str(tmp_path), "talentsoft": {"webhook_secret": "short"}}))
    code, _, err = cli(config, "serve", "--port", "0", capsys=capsys)
    assert code == 1
    assert "16 to 512 characters" in err


def test_config_from_files_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAP_HRDATA_TALENTSOFT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TAP_HRDATA_TALENTSOFT_PAGE_SIZE", "7")
    monkeypatch.setenv("TAP_HRDATA_FILES_STORAGE_URL", str(tmp_path))
    config = load_config(None)
    assert webhook_secret(config, "talentsoft") == SECRET
    assert config["talentsoft"]["page_size"] == 7
    assert config["files_storage_url"] == str(tmp_path)
    first = tmp_path / "a.json"
    first.write_text(json.dumps({"talentsoft": {"client_id": "a", "base_url": "https://x"}}))
    second = tmp_path / "b.json"
    second.write_text(json.dumps({"talentsoft": {"client_id": "b"}}))
    merged = load_config([str(first), str(second), "ENV"])
    assert merged["talentsoft"] == {"client_id": "b", "base_url": "https://x", "webhook_secret": SECRET, "page_size": 7}
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(ConfigError, match="not a JSON object"):
        load_config([str(bad)])


def test_a_subscription_delivers_to_the_receiver(
    tmp_path: Path,
    emulator: Emulator,
    talentsoft: WiredTalentsoft,
    receiver: Served,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, emulator, talentsoft)
    hook_ids = {}
    for event in ("vacancy_update", "applicant_update"):
        code, out, err = cli(
            config,
            "talentsoft",
            "subscribe",
            "--event",
            event,
            "--callback-url",
            receiver.url + "/talentsoft/{secret}",
            "--ping-url",
            receiver.url + "/talentsoft/{secret}/ping",
            capsys=capsys,
        )
        assert code == 0, err
        hook_ids[event] = out.strip()
    assert talentsoft.system.ping(hook_ids["vacancy_update"]) == 200
    assert talentsoft.system.fire("vacancy_update", {"reference": "VAC-2"}, event_id="ev-1") == [200]
    assert talentsoft.system.fire("applicant_update", {"applicantId": "CAND-7"}, event_id="ev-2") == [200]
    assert talentsoft.system.fire("vacancy_new", {"reference": "VAC-3"}) == []  # nobody subscribed
    entries = receiver.entries()
    assert [(e["event_key"], e["event"]) for e in entries] == [("ev-1", "vacancy_update"), ("ev-2", "applicant_update")]
    assert entries[0]["body"]["hookId"] == hook_ids["vacancy_update"]
