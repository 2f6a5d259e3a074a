"""Child streams fed from their parent's frame: one SCHEMA per run, never ACTIVATE_VERSION, records in order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import config_for, mount, run_tap
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator

CHILDREN = ("applications", "attachments")


def config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **extra: object) -> dict[str, object]:
    return config_for(emulator, vendor, files=tmp_path, talentsoft={"page_size": 3}, **extra)


def test_a_child_writes_its_schema_once_per_run(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=2, candidates=9, attachments_per_candidate=(1, 2)))
    result = run_tap(config(emulator, vendor, tmp_path))
    schemas = [m["stream"] for m in result.messages if m["type"] == "SCHEMA"]
    for child in CHILDREN:
        assert result.records(child)
        assert schemas.count(child) == 1, f"{child}: {schemas.count(child)} SCHEMA messages for 9 parents"
    # ... and before its first record
    kinds = [m["type"] for m in result.messages if m.get("stream") == "attachments"]
    assert kinds.index("SCHEMA") < kinds.index("RECORD")


def test_a_child_never_activates_a_version(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=2, candidates=4, attachments_per_candidate=(1, 1)))
    result = run_tap(config(emulator, vendor, tmp_path, emit_activate_version_messages=True))
    activated = {m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"}
    assert "referentials" in activated  # a full-table parent does, with the setting on
    assert activated.isdisjoint(CHILDREN)


def test_children_of_a_candidate_come_before_its_record_and_bookmark(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=0, candidates=5, attachments_per_candidate=(1, 1)))
    result = run_tap(config(emulator, vendor, tmp_path))
    seen: set[str] = set()
    for message in result.messages:
        if message["type"] != "RECORD":
            continue
        record = message["record"]
        if message["stream"] in CHILDREN:
            assert record["candidate_id"] not in seen, "a child record after its parent"
        elif message["stream"] == "candidates":
            seen.add(record["id"])
    assert len(seen) == 5
