"""``files_storage_url: s3://bucket/prefix`` with ``files_storage_options``, against a real S3-compatible server.

moto's standalone server (tests/s3server.py) stands in for AWS S3 or MinIO; s3fs speaks HTTP
to it. An object appears under its final key only when its upload completes (one PUT, or a
multipart upload's completion): a write that breaks leaves nothing under the key and no
multipart upload pending.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import pytest

from tap_hrdata.preflight import PreflightError
from tap_hrdata.storage import FileStorage, StorageError, backend_options
from tap_hrdata.tap import TapHrData
from tests.conftest import config_for, mount, run_tap
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator
from tests.s3server import SECRET, S3Server, s3_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.emulator.server import Emulator

__all__ = ["s3_server"]  # the fixture, imported for this module's tests

MIB = 1 << 20


def storage(server: S3Server, bucket: str, **options: Any) -> FileStorage:
    return FileStorage(f"s3://{bucket}/files", options={**server.options(), **options})


def test_a_write_lands_whole_with_its_checksum(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    data = bytes(range(256)) * 40_000  # 10 MB: a multipart upload
    stored = storage(s3_server, bucket).write(
        ("talentsoft", "attachments", "C-1", "../../x"), (data[i : i + MIB] for i in range(0, len(data), MIB))
    )
    objects = s3_server.objects(bucket)
    [(key, body)] = objects.items()
    assert key.startswith("files/talentsoft/attachments/C-1/")
    assert ".." not in key.split("/")  # a name from a server never becomes a path
    assert body == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.uri == f"s3://{bucket}/{key}"


@pytest.mark.parametrize("size", [100_000, 12 * MIB], ids=["one-put", "multipart"])
def test_a_broken_write_leaves_nothing_under_the_key(s3_server: S3Server, size: int) -> None:
    bucket = s3_server.new_bucket()

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            yield b"x" * min(MIB, size - sent)
            sent += MIB
        raise ConnectionError("the download broke")

    with pytest.raises(ConnectionError):
        storage(s3_server, bucket).write(("youserve", "files", "7101", "f-1"), chunks())
    assert s3_server.objects(bucket) == {}
    assert s3_server.pending_uploads(bucket) == []  # the multipart upload was aborted, not left to bill


def test_a_ranged_download_is_published_on_commit_only(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    part = storage(s3_server, bucket).open_part(("youserve", "files", "7101", "f-2"))
    for _ in range(7):
        part.append(b"y" * MIB)
    assert s3_server.objects(bucket) == {}  # nothing under the key before the commit
    stored = part.commit()
    assert s3_server.objects(bucket) == {"files/youserve/files/7101/f-2": b"y" * 7 * MIB}
    assert stored.sha256 == hashlib.sha256(b"y" * 7 * MIB).hexdigest()


def test_the_preflight_probe_writes_and_deletes(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    storage(s3_server, bucket).probe()
    assert s3_server.objects(bucket) == {}


def test_a_storage_that_refuses_stops_the_preflight_without_showing_credentials(
    s3_server: S3Server, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, TalentsoftEmulator(vacancies=2, candidates=1))
    config = config_for(emulator, vendor, files="s3://no-such-bucket-anywhere/files")
    config["files_storage_options"] = s3_server.options()
    with caplog.at_level(logging.DEBUG), pytest.raises(PreflightError) as refused:
        TapHrData(config=config).ensure_preflight()
    assert str(refused.value).startswith("files_storage_url: cannot write and delete a file there")
    assert SECRET not in str(refused.value)
    assert SECRET not in caplog.text


def test_region_goes_where_s3fs_reads_it() -> None:
    assert backend_options("s3://b/p", {"region": "eu-west-1", "key": "k", "token": None}) == {
        "client_kwargs": {"region_name": "eu-west-1"},
        "key": "k",
    }
    assert backend_options("gs://b/p", {"region": "x"}) == {"region": "x"}


def test_a_tap_run_stores_every_file_in_s3_with_matching_checksums(s3_server: S3Server, emulator: Emulator) -> None:
    bucket = s3_server.new_bucket()
    talentsoft = mount(emulator, TalentsoftEmulator(vacancies=3, candidates=4, attachments_per_candidate=(1, 2)))
    youserve = mount(emulator, YouserveEmulator())
    config = config_for(
        emulator,
        talentsoft,
        youserve,
        files=f"s3://{bucket}/files",
        talentsoft={"referential_categories": []},
    )
    config["files_storage_options"] = s3_server.options()
    result = run_tap(config)
    records = result.records("attachments") + result.records("delivered_files")
    assert len(result.records("attachments")) >= 4
    assert result.records("delivered_files")
    objects = s3_server.objects(bucket)
    for record in records:
        assert record["storage_uri"].startswith(f"s3://{bucket}/files/")
        body = objects[record["storage_uri"].removeprefix(f"s3://{bucket}/")]
        assert hashlib.sha256(body).hexdigest() == record["sha256"]
        assert len(body) == record.get("size_bytes", record.get("file_size"))
    assert len(objects) == len(records)  # no temporary or probe object left behind
    assert s3_server.pending_uploads(bucket) == []


def test_a_missing_bucket_is_an_error_naming_the_key_and_is_never_created(s3_server: S3Server) -> None:
    missing = "no-such-bucket-" + s3_server.new_bucket()
    with pytest.raises(StorageError) as caught:
        storage(s3_server, missing).write(("talentsoft", "attachments", "C-1", "A-1"), [b"z"])
    assert "talentsoft/attachments/C-1/A-1" in str(caught.value)
    assert SECRET not in str(caught.value)
    buckets = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]
    assert missing not in buckets  # the tap never creates a bucket in the user's account
