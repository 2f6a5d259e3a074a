"""The webhook journal: append-only lines, fsynced, read from a position, a torn last line ignored and cut off."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks import journal as journal_module
from tap_hrdata.webhooks.journal import JournalError, JournalReader, JournalWriter, encode_line, journal_path

LOG = logging.getLogger("test")


def line(key: str) -> bytes:
    return encode_line({"vendor": "talentsoft", "event": "vacancy_new", "event_key": key, "body": {"id": key}})


def test_appends_are_read_back_in_order_from_any_position(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = JournalWriter(path, LOG).open()
    first_end = writer.append([line("a"), line("b")])
    end = writer.append([line("c")])
    writer.close()
    entries = list(JournalReader(path).entries())
    assert [e.fields["event_key"] for e in entries] == ["a", "b", "c"]
    assert entries[-1].position == end == path.stat().st_size
    assert entries[1].position == first_end
    assert all(e.start < e.position for e in entries)
    assert [e.fields["event_key"] for e in JournalReader(path).entries(after=entries[0].position)] == ["b", "c"]
    assert list(JournalReader(path).entries(after=end)) == []
    assert JournalReader(path).at_line_start(first_end)
    assert not JournalReader(path).at_line_start(first_end - 3)
    assert not JournalReader(path).at_line_start(end + 10)


def test_each_append_is_fsynced_before_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.jsonl"
    synced: list[int] = []
    real_fsync = journal_module.os.fsync
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: (synced.append(path.stat().st_size), real_fsync(fd)))
    writer = JournalWriter(path, LOG).open()
    synced.clear()  # the directory's fsync at creation
    end = writer.append([line("a")])
    assert synced == [end]  # the bytes were written, then synced, before append returned
    writer.close()


def test_a_torn_last_line_is_not_read_and_is_cut_off_by_the_next_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    writer = JournalWriter(path, LOG).open()
    writer.append([line("a")])
    writer.close()
    with path.open("ab") as handle:  # a crash in the middle of an append
        handle.write(line("torn")[:20])
    assert [e.fields["event_key"] for e in JournalReader(path).entries()] == ["a"]
    writer = JournalWriter(path, LOG).open()
    assert "torn last line" in caplog.text
    writer.append([line("b")])
    writer.close()
    assert [e.fields["event_key"] for e in JournalReader(path).entries()] == ["a", "b"]
    assert path.read_bytes() == line("a") + line("b")


def test_a_journal_of_only_a_torn_line_is_emptied(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line("torn")[:-1])
    JournalWriter(path, LOG).open().close()
    assert path.read_bytes() == b""


def test_a_complete_line_that_is_not_an_entry_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(line("a") + b"garbage\n" + b'{"v": 99}\n' + line("b"))
    keys = [e.fields["event_key"] for e in JournalReader(path, LOG).entries()]
    assert keys == ["a", "b"]
    assert caplog.text.count("is not an entry") == 2


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = JournalWriter(path, LOG).open()
    with pytest.raises(JournalError, match="held by another receiver"):
        JournalWriter(path, LOG).open()
    first.close()
    JournalWriter(path, LOG).open().close()


def test_a_refused_write_leaves_the_journal_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.jsonl"
    writer = JournalWriter(path, LOG).open()
    writer.append([line("a")])
    real_write = journal_module.os.write

    def half_then_full(fd: int, data: memoryview) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", half_then_full)
    with pytest.raises(JournalError, match="No space left"):
        writer.append([line("b")])
    monkeypatch.undo()
    writer.close()
    assert path.read_bytes() == line("a")


def test_the_journal_needs_local_storage(tmp_path: Path) -> None:
    assert journal_path(FileStorage(str(tmp_path)), "talentsoft") == tmp_path / "webhooks/talentsoft/events.jsonl"
    with pytest.raises(JournalError, match="local files_storage_url"):
        journal_path(FileStorage("memory://bucket/prefix"), "talentsoft")


def test_a_missing_journal_reads_as_empty(tmp_path: Path) -> None:
    reader = JournalReader(tmp_path / "none.jsonl")
    assert list(reader.entries()) == []
    assert reader.size() == 0


def test_reading_up_to_a_position_and_the_end_of_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = JournalWriter(path, LOG).open()
    first = writer.append([line("a")])
    second = writer.append([line("b")])
    writer.close()
    reader = JournalReader(path)
    assert reader.complete_end() == second
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"event_key":"half')
    assert reader.complete_end() == second
    assert [e.fields["event_key"] for e in reader.entries(until=first)] == ["a"]
    assert [e.fields["event_key"] for e in reader.entries(until=second - 1)] == ["a"]
    assert [e.fields["event_key"] for e in reader.entries(after=first, until=second)] == ["b"]
    assert JournalReader(tmp_path / "none.jsonl").complete_end() == 0
    path.write_bytes(b"no newline at all")
    assert reader.complete_end() == 0
