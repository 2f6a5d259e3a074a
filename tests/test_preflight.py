"""Every setting checked before anything is paid, deleted or extracted; ``--test`` is that check, free.

Each case starts from a config of all four sources in their current generation, Coresignal
included (a paid POST) and YouServe deleting confirmed files, breaks one setting, and runs
the tap's own command line: the run must end non-zero before any record, POST or DELETE,
with a message naming the setting and never a secret's value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.tap import TapHrData
from tests.conftest import current_generation, run_tap_partial
from tests.emulator.server import Emulator

ROOT = Path(__file__).resolve().parent.parent


def every_source(emulator: Emulator, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config of the four sources (current generation) and their vendors, mounted on ``emulator``."""
    config: dict[str, Any] = {"files_storage_url": str(tmp_path / "files")}
    vendors: dict[str, Any] = {}
    for source in ("talentsoft", "hrflow", "youserve", "coresignal"):
        before = list(emulator.vendors)
        config.update(current_generation(emulator, source, tmp_path))
        vendors[source] = next(v for v in emulator.vendors if v not in before and hasattr(v, "faults"))
    config["files_storage_url"] = str(tmp_path / "files")
    config["youserve"]["delete_after_download"] = True
    return config, vendors


def cli(config: dict[str, Any], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "tap_hrdata", "--config", str(path), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )


def nothing_happened(vendors: dict[str, Any], done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0
    assert '"type":"RECORD"' not in done.stdout.replace(" ", "")
    assert vendors["coresignal"].post_count == 0  # nothing paid
    assert vendors["youserve"].deleted == []  # nothing deleted


#: One broken setting each: (where, value); None removes it. What the message must name.
BROKEN: list[tuple[str, str, object, str]] = [
    ("misspelled", "talentsoft.clientsecret", "x", "did you mean 'talentsoft.client_secret'"),
    ("unknown top-level", "start_dat", "2024-01-01", "did you mean 'start_date'"),
    ("halfway", "talentsoft.client_secret", None, "talentsoft is configured halfway"),
    ("out of range", "talentsoft.page_size", 0, "config['talentsoft']['page_size']"),
    ("bad date", "start_date", "yesterday", "start_date is not a date"),
    ("both credentials", "coresignal.api_token", "cs-token-0123456789", "set only one of coresignal.api_key"),
    ("nothing to buy", "coresignal.filters", None, "set coresignal.filters or coresignal.job_ids"),
    ("plain http", "hrflow.base_url", "http://api.hrflow.example/v1", "hrflow.base_url uses plain http"),
    ("bad secret", "talentsoft.client_secret", "not-the-secret-123", "talentsoft token request"),
    ("bad key", "hrflow.api_key", "not-the-key-123456", "hrflow preflight"),
    ("bad sign-in", "youserve.client_secret", "not-the-secret-456", "youserve token request"),
    ("bad api key", "coresignal.api_key", "0" * 32, "coresignal preflight"),
    ("no storage", "files_storage_url", "/proc/tap-hrdata-cannot-write-here", "files_storage_url: cannot write"),
]


@pytest.mark.parametrize(("setting", "value", "named"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_one_broken_setting_stops_the_run_before_anything_is_paid_deleted_or_extracted(
    emulator: Emulator, tmp_path: Path, setting: str, value: object, named: str
) -> None:
    config, vendors = every_source(emulator, tmp_path)
    block, _, name = setting.rpartition(".")
    target = config[block] if block else config
    if value is None:
        target.pop(name, None)
    else:
        target[name] = value
    state = {
        "bookmarks": {
            "delivered_files": {
                "replication_key": "upload_date",
                "replication_key_value": "2026-12-01T00:00:00.000000+00:00",
            }
        }
    }
    (tmp_path / "state.json").write_text(json.dumps(state))  # a state that would allow deletions
    done = cli(config, tmp_path, "--state", str(tmp_path / "state.json"))
    nothing_happened(vendors, done)
    assert named in done.stderr, done.stderr[-2000:]
    if (isinstance(value, str) and "secret" in setting) or "key" in setting:
        assert str(value) not in done.stderr  # a setting is named, a secret's value never shown


def test_no_source_at_all_is_an_error(tmp_path: Path) -> None:
    done = cli({"files_storage_url": str(tmp_path)}, tmp_path)
    assert done.returncode != 0
    assert "no source is configured" in done.stderr


def test_dash_dash_test_is_the_preflight_with_one_verdict_per_source(emulator: Emulator, tmp_path: Path) -> None:
    config, vendors = every_source(emulator, tmp_path)
    done = cli(config, tmp_path, "--test")
    assert done.returncode == 0, done.stderr[-2000:]
    verdicts = [line for line in done.stderr.splitlines() if line.split(":")[0] in vendors]
    assert verdicts == ["talentsoft: OK", "hrflow: OK", "youserve: OK", "coresignal: OK"]
    assert "An unhandled error occurred" not in done.stderr
    assert vendors["coresignal"].post_count == 0
    assert done.stdout == ""

    config["hrflow"]["api_key"] = "not-the-key-123456"
    done = cli(config, tmp_path, "--test")
    assert done.returncode == 1
    lines = {line.split(":")[0]: line for line in done.stderr.splitlines() if line.split(":")[0] in vendors}
    assert lines["hrflow"].startswith("hrflow: hrflow preflight: GET /hrflow/auth answered code 401")
    assert (lines["talentsoft"], lines["youserve"], lines["coresignal"]) == (
        "talentsoft: OK",
        "youserve: OK",
        "coresignal: OK",
    )
    assert "not-the-key-123456" not in done.stderr


def test_the_preflight_runs_once_and_its_token_is_the_runs_token(emulator: Emulator, tmp_path: Path) -> None:
    config, vendors = every_source(emulator, tmp_path)
    tap = TapHrData(config={k: v for k, v in config.items() if k != "coresignal"})
    tap.ensure_preflight()
    tap.ensure_preflight()
    assert vendors["talentsoft"].token_requests == 1
    assert vendors["hrflow"].calls["/auth"] == 1


def test_paid_work_comes_last_so_a_failure_elsewhere_costs_nothing(emulator: Emulator, tmp_path: Path) -> None:
    config, vendors = every_source(emulator, tmp_path)
    config["youserve"]["delete_after_download"] = False
    from tests.emulator.server import Fault

    vendors["youserve"].faults.add(Fault(path_regex=r"/files/.", method="GET", status=400, times=100))
    partial, error = run_tap_partial(config)
    assert "youserve stream 'delivered_files'" in str(error)
    assert partial.records("vacancies")  # the sources before it ran
    assert vendors["coresignal"].post_count == 0  # Coresignal, the paid one, had not started


def every_setting() -> list[tuple[str, dict[str, Any]]]:
    """Each setting of the schema (dotted for a source's), with its schema."""
    from tap_hrdata.settings import CONFIG_SCHEMA

    found = []
    for name, schema in CONFIG_SCHEMA["properties"].items():
        nested = schema.get("properties")
        if nested:
            found += [(f"{name}.{sub}", sub_schema) for sub, sub_schema in nested.items()]
        else:
            found.append((name, schema))
    return found


def wrong_value(schema: dict[str, Any]) -> object:
    """A value the setting's schema refuses: of another type."""
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "string" in kinds:
        return 12345 if "enum" not in schema else "not-one-of-the-options"
    if "integer" in kinds or "number" in kinds:
        return "not-a-number"
    if "boolean" in kinds:
        return "maybe"
    if "array" in kinds:
        return "not-a-list"
    return "not-an-object"


@pytest.mark.parametrize(("setting", "schema"), every_setting(), ids=[name for name, _ in every_setting()])
def test_any_setting_of_any_source_set_wrong_stops_the_run_naming_it(
    emulator: Emulator, tmp_path: Path, setting: str, schema: dict[str, Any]
) -> None:
    config, vendors = every_source(emulator, tmp_path)
    block, _, name = setting.rpartition(".")
    value = wrong_value(schema)
    (config.setdefault(block, {}) if block else config)[name] = value
    with pytest.raises(ConfigValidationError) as caught:
        TapHrData(config=config).streams  # noqa: B018  # the settings are checked before any stream runs
    named = f"['{block}']['{name}']" if block else f"['{name}']"
    assert any(named in error or setting in error for error in caught.value.errors), caught.value.errors
    if schema.get("secret"):
        assert not any(str(value) in error for error in [str(caught.value), *caught.value.errors])
    assert vendors["coresignal"].post_count == 0
    assert vendors["youserve"].deleted == []
