"""Hostile data: JSON nested about 1,000 deep, an id too long for a file name, a full disk.

Each of them used to stop a run with an error naming nothing (a bare ``RecursionError``,
``OSError: File name too long``, a log line reading ``28``), and every later run at the
same record. Now JSON nested deeper than :data:`~tap_hrdata.jsondecode.MAX_DEPTH` is
refused naming source, stream, where (frame offset, endpoint, file and record) and the
path inside the record; an id too long for a file name is stored under a hashed key; a
full disk names stream, storage key and ids, leaves no partial file behind, and the next
run (the disk freed) completes the data.

Faults are injected by wrapping the emulator's own builders in each test, so the deep
JSON, the long id or the full disk sit exactly where a vendor or a host would put them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fsspec.implementations.local import LocalFileOpener

import tests.emulator.talentsoft as talentsoft_emulator
from tap_hrdata.jsondecode import MAX_DEPTH
from tap_hrdata.storage import MAX_SEGMENT_BYTES
from tests.conftest import run_tap, run_tap_partial
from tests.faults.conftest import assert_exactly_once, assert_union_complete, setup_source

if TYPE_CHECKING:
    from tests.emulator.server import Emulator, Request, Response
    from tests.faults.conftest import Setup

# ---- JSON nested deeper than the limit ------------------------------------------------------------

_MARK = "__deep_json__"
#: How deep the deep field sits in each source's JSON (the levels around it): a Talentsoft
#: document's detail object; an item of an HrFlow or YouServe page's ``data`` list; a
#: Coresignal line.
_LEVELS_AROUND = {"talentsoft": 2, "hrflow": 3, "youserve": 3, "coresignal": 1}


class DeepJson:
    """Puts ``"deep": [[[...]]]`` (``depth`` arrays) into one record of a source, until disarmed.

    The record: Talentsoft's vacancy at offset 2, the second item of each HrFlow profiles
    page and YouServe listing page, the third line of Coresignal's first file.
    """

    def __init__(self, setup: Setup, depth: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = True
        self.deep = b"[" * depth + b"]" * depth
        vendor = setup.vendor
        if setup.source == "talentsoft":
            self._talentsoft(vendor, monkeypatch)
        elif setup.source == "coresignal":
            self._coresignal(vendor)
        else:
            self._page(vendor, r"^/storing/profiles$" if setup.source == "hrflow" else r"/files$")

    def _talentsoft(self, vendor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        document, write_entry = vendor._document, talentsoft_emulator._write_entry

        def marked_document(kind: str, index: int, position: int, **options: Any) -> dict[str, Any]:
            doc: dict[str, Any] = document(kind, index, position, **options)
            if self.armed and kind == "vacancies" and position == 2:
                doc[talentsoft_emulator.DETAIL[kind]]["deep"] = _MARK
            return doc

        def deep_entry(archive: Any, name: str, chunks: Any, size: int, when: int, *, deflate: bool) -> None:
            if name in talentsoft_emulator.ENTRY.values():
                text = b"".join(chunks).replace(json.dumps(_MARK).encode(), self.deep)
                chunks, size = [text], len(text)
            write_entry(archive, name, chunks, size, when, deflate=deflate)

        vendor._document = marked_document
        monkeypatch.setattr(talentsoft_emulator, "_write_entry", deep_entry)

    def _coresignal(self, vendor: Any) -> None:
        line = vendor._line

        def deep_line(position: int, last_updated: int) -> bytes:
            text: bytes = line(position, last_updated)
            [request] = vendor.data_requests.values()
            if self.armed and position == request.indices[2]:
                text = b'{"deep":' + self.deep + b"," + text[1:]
            return text

        vendor._line = deep_line

    def _page(self, vendor: Any, path: str) -> None:
        handle = vendor.handle

        def deep_page(request: Request) -> Response:
            response: Response = handle(request)
            if self.armed and re.search(path, request.path) and response.status == 200:
                assert isinstance(response.body, bytes)
                page = json.loads(response.body)
                if len(page["data"]) > 1:
                    page["data"][1]["deep"] = _MARK
                    response.body = json.dumps(page).encode().replace(json.dumps(_MARK).encode(), self.deep)
                    response.headers["Content-Length"] = str(len(response.body))
            return response

        vendor.handle = deep_page

    def deep_job_id(self, vendor: Any) -> object:
        """Coresignal: the id of the job whose line is deep."""
        [request_id] = vendor.data_requests
        return vendor.jobs_for_request(request_id)[2]["id"]


def where_too_deep(setup: Setup) -> str:
    """What the error must say: source, stream, where in the data and the path to the deep part."""
    if setup.source == "talentsoft":
        return f"talentsoft stream 'vacancies': frame at offset 2: offerdetail: {_too_deep('$.offerDetail.deep')}"
    if setup.source == "hrflow":
        return f"hrflow stream 'hrflow_profiles': GET /hrflow/storing/profiles: {_too_deep('$.data[1].deep[0]')}"
    if setup.source == "youserve":
        return f"youserve stream 'delivered_files': GET /youserve/fileapi/v1.0/files: {_too_deep('$.data[1].deep[0]')}"
    [request_id] = setup.vendor.data_requests
    name = setup.vendor.files_for_request(request_id)[0]
    return (
        f"coresignal stream 'bulk_jobs': file {name!r} of data request {request_id}, record 3: "
        f"{_too_deep('$.deep[0][0][0]...')}"
    )


def _too_deep(path: str) -> str:
    return f"JSON nested more than {MAX_DEPTH} levels deep at {path}"


SOURCES = ["talentsoft", "hrflow", "youserve", "coresignal"]


@pytest.mark.parametrize("depth", [150, 1000], ids=["150-deep", "1000-deep"])
@pytest.mark.parametrize("source", SOURCES)
def test_json_nested_too_deep_names_stream_and_where_and_the_next_run_goes_on(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, depth: int
) -> None:
    """1,000 deep raised a bare RecursionError in the decoder; 150 deep went through, to break
    whatever recursed over it next (redaction, a target). Both are refused, named."""
    setup = setup_source(emulator, source, tmp_path)
    deep = DeepJson(setup, depth, monkeypatch)
    partial, error = run_tap_partial(setup.config)
    assert not isinstance(error, RecursionError)
    assert where_too_deep(setup) in str(error)
    if source == "talentsoft":
        assert [r["offset"] for r in partial.records("vacancies")] == [0, 1]
    deep.armed = False  # the vendor fixed its data
    assert_union_complete([partial, run_tap(setup.config, state=partial.last_state)], setup)
    if source == "coresignal":
        assert setup.vendor.post_count == 1  # the next run resumed the paid request


@pytest.mark.parametrize("source", SOURCES)
def test_json_nested_exactly_to_the_limit_is_kept(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    deep = DeepJson(setup, MAX_DEPTH - _LEVELS_AROUND[source], monkeypatch)
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    kept = [m for m in result.messages if m["type"] == "RECORD" and deep.deep.decode() in json.dumps(m["record"])]
    assert kept


def test_json_nested_too_deep_is_refused_before_redaction_walks_it(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The redaction walks every field of ``raw``, one recursion per level: 600 deep broke it."""
    setup = setup_source(emulator, "hrflow", tmp_path)
    setup.config.update(redact={"hrflow_profiles": ["info.email"]}, redact_salt="a-salt-of-16-chars-or-more")
    DeepJson(setup, 600, monkeypatch)
    _, error = run_tap_partial(setup.config)
    assert where_too_deep(setup) in str(error)


def test_a_coresignal_record_too_deep_can_be_given_up_without_paying_again(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paid file is the vendor's for good: the error says how to go past the one record."""
    setup = setup_source(emulator, "coresignal", tmp_path)
    deep = DeepJson(setup, 1000, monkeypatch)
    partial, error = run_tap_partial(setup.config)
    [request_id] = setup.vendor.data_requests
    name = setup.vendor.files_for_request(request_id)[0]
    assert "set current_file to the file named above and current_file_records to 3" in str(error)
    assert "bookmarks.bulk_jobs.pending_request" in str(error)
    again, error_again = run_tap_partial(setup.config, state=partial.last_state)
    assert where_too_deep(setup) in str(error_again)  # nothing changed: stopped at the same record
    state = json.loads(json.dumps(partial.last_state))
    state["bookmarks"]["bulk_jobs"]["pending_request"].update(current_file=name, current_file_records=3)
    rest = run_tap(setup.config, state=state)
    emitted = [r["id"] for result in (partial, rest) for r in result.records("bulk_jobs")]
    expected = [job["id"] for job in setup.vendor.jobs_for_request(request_id)]
    assert sorted(set(emitted)) == sorted(set(expected) - {deep.deep_job_id(setup.vendor)})
    assert setup.vendor.post_count == 1
    assert not again.records("bulk_jobs")[2:]  # the run in between emitted the two before it, at most


# ---- ids too long for a file name -----------------------------------------------------------------

#: 27 CJK characters: 243 bytes once %-encoded, 281 with the suffix of a local write's temporary
#: name, past the 255 bytes a file name may have.
LONG_ID = "\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb\u540d" * 3


def stored_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def assert_stored_under_a_hashed_key(record: dict[str, Any], root: Path) -> None:
    uri = record["storage_uri"]
    assert uri.startswith(f"file://{root}/")
    name = uri.rsplit("/", 1)[1]
    assert len(name.encode()) <= MAX_SEGMENT_BYTES
    assert name.startswith("%E6%97%A5%E6%9C%AC")  # readable: it starts as the id does
    assert re.search(r"~[0-9a-f]{64}$", name)
    stored = Path(uri.removeprefix("file://")).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == record["sha256"]


def test_a_youserve_file_id_too_long_for_a_file_name_is_stored_under_a_hashed_key(
    emulator: Emulator, tmp_path: Path
) -> None:
    setup = setup_source(emulator, "youserve", tmp_path)
    setup.vendor.add_file("long.pdf", 7101, 40, file_id=LONG_ID)
    setup.vendor.add_file("longer.pdf", 7101, 50, file_id=LONG_ID + "2")
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    records = {r["file_id"]: r for r in result.records("delivered_files")}
    assert_stored_under_a_hashed_key(records[LONG_ID], setup.root)
    assert_stored_under_a_hashed_key(records[LONG_ID + "2"], setup.root)
    assert records[LONG_ID]["storage_uri"] != records[LONG_ID + "2"]["storage_uri"]  # same start, two keys
    files = stored_files(setup.root)
    again = run_tap(setup.config)  # from scratch: every file downloaded again, to the same keys
    assert {r["file_id"]: r["storage_uri"] for r in again.records("delivered_files")} == {
        file_id: r["storage_uri"] for file_id, r in records.items()
    }
    assert stored_files(setup.root) == files


def test_a_talentsoft_attachment_id_too_long_for_a_file_name_is_stored_under_a_hashed_key(
    emulator: Emulator, tmp_path: Path
) -> None:
    setup = setup_source(emulator, "talentsoft", tmp_path)
    vendor = setup.vendor
    attachments = vendor._attachments

    def long_first_id(index: int, **options: Any) -> list[Any]:
        found = attachments(index, **options)
        if index == 1 and found:
            found[0] = found[0]._replace(id=LONG_ID)
        return found

    vendor._attachments = long_first_id
    result = run_tap(setup.config)
    assert_exactly_once(result, setup)
    [record] = [r for r in result.records("attachments") if r["attachment_id"] == LONG_ID]
    assert_stored_under_a_hashed_key(record, setup.root)


# ---- a full disk ---------------------------------------------------------------------------------


class FullDisk:
    """The disk under ``root`` fills up while writing the ``nth`` file (of those whose path
    matches ``pattern``), then stays full until freed.

    ``at="write"``: the write that does not fit stores half of its bytes, then fails with
    ENOSPC, as write(2) does. ``at="close"``: every write is buffered, and the flush of
    closing fails (a buffered writer learns of a full disk late).
    """

    def __init__(self, root: Path, nth: int, at: str, monkeypatch: pytest.MonkeyPatch, pattern: str = "") -> None:
        self.full = False
        self.freed = False
        self.opened = 0
        write, close, init = LocalFileOpener.write, LocalFileOpener.close, LocalFileOpener.__init__
        disk = self

        def opened(opener: LocalFileOpener, path: str, mode: str, *args: Any, **kwargs: Any) -> None:
            init(opener, path, mode, *args, **kwargs)
            probe = ".tap-hrdata-preflight-" in path
            if "w" in mode and Path(path).is_relative_to(root) and not probe and re.search(pattern, path):
                disk.opened += 1
                disk.full = disk.opened >= nth and not disk.freed

        def write_until_full(opener: LocalFileOpener, data: Any) -> int:
            if disk.full and at == "write" and Path(opener.path).is_relative_to(root):
                write(opener, bytes(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return int(write(opener, data))

        def close_until_full(opener: LocalFileOpener) -> None:
            close(opener)
            if disk.full and at == "close" and Path(opener.path).is_relative_to(root):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(LocalFileOpener, "__init__", opened)
        monkeypatch.setattr(LocalFileOpener, "write", write_until_full)
        monkeypatch.setattr(LocalFileOpener, "close", close_until_full)

    def free(self) -> None:
        self.full = False
        self.freed = True


FULL_DISK = [
    ("talentsoft", "attachments", r"talentsoft/attachments/CAND-\d{5}/ATT-\d{5}-\d"),
    ("youserve", "delivered_files", r"youserve/[^/']+/\d+/[^/']+"),
]


@pytest.mark.parametrize("at", ["write", "close"])
@pytest.mark.parametrize("case", FULL_DISK, ids=[c[0] for c in FULL_DISK])
def test_a_full_disk_names_stream_key_and_ids_and_leaves_no_partial_file(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[str, str, str], at: str
) -> None:
    source, stream, key = case
    setup = setup_source(emulator, source, tmp_path)
    disk = FullDisk(setup.root, 3, at, monkeypatch)
    partial, error = run_tap_partial(setup.config)
    # The SDK logs ``args[0]`` of the error that stops a run: that was ``28``.
    logged = str(error.args[0])
    found = re.search(
        rf"^{source} stream '{stream}': could not store key '({key})' under file://{setup.root}: ", logged
    )
    assert found, logged
    assert logged.endswith("No space left on device (ENOSPC)")
    assert not (setup.root / found[1]).exists()
    assert not list(setup.root.rglob("*.part-*"))  # nothing left looking like, or becoming, a file
    disk.free()
    rest = run_tap(setup.config, state=partial.last_state)
    assert_union_complete([partial, rest], setup)
    for record in [*partial.records(stream), *rest.records(stream)]:
        stored = Path(record["storage_uri"].removeprefix("file://")).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == record["sha256"]


def test_a_full_disk_names_the_ids_a_hashed_key_comes_from(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_source(emulator, "youserve", tmp_path)
    # One download at a time: side by side, the disk filling up would fail the write of
    # another (short-keyed) file first, and that one is rightly the error reported.
    setup.config["youserve"]["max_concurrent_requests"] = 1
    for n in range(6):
        setup.vendor.add_file(f"f{n}.pdf", 7101, 40, file_id=f"{LONG_ID}{n}")
    FullDisk(setup.root, 1, "write", monkeypatch, pattern="~[0-9a-f]{64}")
    _, error = run_tap_partial(setup.config)
    assert re.search(rf"could not store key '[^']+~[0-9a-f]{{64}}' \(from the ids '{LONG_ID}\d'\)", str(error))
