"""HrFlow stream ``hrflow_profile_attachments``: the files of each profile emitted, bytes to storage.

A child of ``hrflow_profiles``: for every profile that stream emits, the profile's attachment
list is asked for, ``GET {base_url}/profile/indexing/attachments?source_key=...&key=...`` (what
HrFlow's SDK sends: ``hrflow/profile/attachment.py``, ``ProfileAttachments.list``), and each
listed file is downloaded from its ``public_url`` into ``files_storage_url`` under
``hrflow/{source_key}/{profile_key}/{attachment key}``; its record carries the metadata, the
size, the sha256, the Content-Type and the ``storage_uri``. Like the parent, the listing's
errors hide in HTTP 200 bodies (``code``), judged by :meth:`HrflowClient.check_answer`.

**The attachment key.** HrFlow's attachment objects (the SDK's ``Attachment`` model: ``type``,
``alt``, ``file_size``, ``file_name``, ``original_file_name``, ``extension``, ``public_url``,
``created_at``, ``updated_at``) carry no id: the key is the ``id`` when one is there, else the
``file_name``. Two attachments of one profile with the same key stop the run (one would
overwrite the other). The key is only ever a storage key segment made safe by
:func:`~tap_hrdata.storage.safe_segment`: a name from the server never becomes a path.

**Downloads.** Through the source's client (its retries, 429 pause, stall and transport
rules) and its workers: the listing and the files of a profile run in the source's
``max_concurrent_requests`` threads (a profile's files side by side, records in the listing's
order), so with the pages ``hrflow_profiles`` fetches ahead the source never has more calls
in flight than that. Each file is streamed into storage in 64 KiB pieces and published only
once whole (a broken body starts the file again). A ``public_url`` on the origin of
``hrflow.base_url`` is sent with the HrFlow credentials; on any other origin (HrFlow's files
are pre-signed object-store URLs) it is sent **without** ``X-API-KEY`` / ``X-USER-EMAIL``
(``authenticate=False``; a redirect is followed by the same rules, never with credentials), and plain ``http://``
is refused unless it is loopback. A file over ``hrflow.attachment_max_bytes``
(by its listed ``file_size``, its Content-Length, or the bytes as they arrive) stops the run
with an error naming the profile and the attachment, nothing stored under its key: a file
skipped with a warning would be missing from the warehouse for good, since its fingerprint
(below) would say it was dealt with; raising the setting and running again fetches it.

**Unchanged files cost no download, and are not emitted again.** The stream's state keeps,
per profile, a fingerprint of each attachment stored: the first 16 hex digits of the sha256
of the source and profile keys, the attachment key, and what the listing says of its
version (``type``, ``file_size``, ``created_at``, ``updated_at``, ``timestamp`` and the
``public_url`` without its query, whose pre-signed signature changes at every listing). A
listed attachment whose fingerprint is there was stored by an earlier run and is skipped (no
download, no record); any change in those fields downloads and emits it again. The table is
``bookmarks.hrflow_profile_attachments.fingerprints``: ``{16 hex digits of the profile:
16 hex digits per attachment}``, about 40 bytes of JSON for a profile with one file and 16
more per further file (some 4.8 MB for 100,000 profiles of 1.5 files); a profile without
attachments has no entry. A profile entry is rewritten as its records are written (only
files written are added, files changed or gone are dropped), so state never claims a file
no record carried. Entries of deleted profiles stay (the parent, incremental, never sees a
deletion). Limits: the listing gives no checksum, so a file replaced with the same
``updated_at``, size and URL is not noticed; and a profile is only looked at when
``hrflow_profiles`` emits it (its ``updated_at`` moved, or a full sync): a file changed on a
profile HrFlow did not mark as updated waits for that.

The listing call is made for every profile emitted (it is how a changed file is seen), even
when nothing is downloaded; one per profile, so the stream is **not selected by default**:
a catalog turns it on (Meltano's default ``select`` of ``*.*`` does).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import typing as t
from http import HTTPStatus
from urllib.parse import urlsplit, urlunsplit

from singer_sdk import StreamSchema
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.children import InlineChildStream
from tap_hrdata.http.client import AnswerError
from tap_hrdata.http.concurrency import CallStoppedError
from tap_hrdata.http.redaction import request_line
from tap_hrdata.http.redirects import origin
from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.http.urls import is_loopback
from tap_hrdata.sources.hrflow.client import HrflowClient
from tap_hrdata.sources.hrflow.streams import SCHEMAS, ProfilesStream
from tap_hrdata.statecheck import StateError, shown
from tap_hrdata.streams import ColumnSources
from tap_hrdata.values import integer, iso_timestamp, text

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.concurrency import Task
    from tap_hrdata.storage import PartialFile, StoredFile

#: The attachment list of one profile (the SDK's ``ProfileAttachments.list``).
LISTING_PATH = "/profile/indexing/attachments"
#: Pieces in which a file is read and stored.
READ_BYTES = 64 * 1024
#: Where the fingerprints are kept in the stream's state.
FINGERPRINTS = "fingerprints"
#: Hex digits of a fingerprint (64 bits).
DIGEST_CHARS = 16
_SLOT = re.compile(rf"[0-9a-f]{{{DIGEST_CHARS}}}")
_DIGESTS = re.compile(rf"(?:[0-9a-f]{{{DIGEST_CHARS}}})+")


class AttachmentError(FatalAPIError):
    """An attachment that cannot be stored: the message names the stream, the profile and the attachment."""


def _digest(*parts: object) -> str:
    """The first :data:`DIGEST_CHARS` hex digits of the sha256 of ``parts`` (as JSON)."""
    data = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:DIGEST_CHARS]


def profile_slot(source_key: str, profile_key: str) -> str:
    """The key of a profile's entry in the fingerprint table."""
    return _digest("profile", source_key, profile_key)


def attachment_key(item: dict[str, t.Any]) -> str | None:
    """An attachment's id, else its ``file_name``; None when it has neither."""
    for name in ("id", "file_name"):
        value = text(item.get(name))
        if value:
            return value
    return None


def version_digest(source_key: str, profile_key: str, key: str, item: dict[str, t.Any]) -> str:
    """The fingerprint of one version of an attachment, as the listing describes it (see the module docstring)."""
    url = item.get("public_url")
    where = None
    if isinstance(url, str):
        parts = urlsplit(url)
        where = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))  # a pre-signed query changes each time
    size = item.get("file_size")
    return _digest(
        "attachment",
        source_key,
        profile_key,
        key,
        item.get("type"),
        integer(size) if integer(size) is not None else size,  # "123" and 123 are one size
        item.get("created_at"),
        item.get("updated_at"),
        item.get("timestamp"),
        where,
    )


def allowed_transport(url: str) -> bool:
    """https, or plain http to this machine only (the rule of every configured URL and redirect)."""
    parts = urlsplit(url)
    return (parts.scheme == "https" and bool(parts.hostname)) or (
        parts.scheme == "http" and is_loopback(parts.hostname)
    )


def split_digests(value: str) -> list[str]:
    """The fingerprints of a table entry."""
    return [value[i : i + DIGEST_CHARS] for i in range(0, len(value), DIGEST_CHARS)]


class ProfileAttachmentsStream(InlineChildStream):
    """Files attached to each profile ``hrflow_profiles`` emits (see the module docstring).

    An :class:`~tap_hrdata.children.InlineChildStream` (one SCHEMA per run, one record
    counter, no per-profile log lines), though unlike Talentsoft's children it makes
    requests of its own: the listing and the downloads, counted under its name.
    """

    name = "hrflow_profile_attachments"
    parent_stream_type = ProfilesStream
    primary_keys = ("profile_key", "attachment_key")
    selected_by_default = False
    schema = StreamSchema(SCHEMAS)
    column_sources: t.ClassVar[ColumnSources] = {
        "attachment_key": (("id",), ("file_name",)),
        "type": (("type",),),
        "file_name": (("file_name",),),
        "original_file_name": (("original_file_name",),),
        "extension": (("extension",),),
        "created_at": (("created_at",),),
        "updated_at": (("updated_at",),),
    }

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: Attachments listed this run that an earlier run had stored, unchanged (not downloaded).
        self.unchanged = 0

    @property
    @override
    def client(self) -> HrflowClient:
        """The run's HrFlow client."""
        return self._tap.client(HrflowClient)

    @classmethod
    @override
    def check_state(cls, stream_state: dict[str, t.Any]) -> None:
        """The fingerprint table: an object of 16 hex digits to 16 hex digits per attachment."""
        table = stream_state.get(FINGERPRINTS)
        if table is None:
            return
        where = f"state: bookmarks.{cls.name}.{FINGERPRINTS}"
        if not isinstance(table, dict):
            msg = f"{where} must be an object of profile fingerprints, found {shown(table)}"
            raise StateError(msg)
        for slot, digests in table.items():
            if not _SLOT.fullmatch(slot) or not isinstance(digests, str) or not _DIGESTS.fullmatch(digests):
                msg = (
                    f"{where}.{shown(slot)} must map {DIGEST_CHARS} hex digits to {DIGEST_CHARS} hex digits "
                    f"per attachment, found {shown(digests)}"
                )
                raise StateError(msg)

    @override
    def preprocess_context(self, context: Context) -> Context:
        """The profile's source and key: all the listing needs (the SDK hands over the whole profile record)."""
        return {"source_key": text(context.get("source_key")), "profile_key": text(context.get("key"))}

    @override
    def _write_state_message(self) -> None:
        # An SDK internal, overridden because the SDK gives no other way: its `sync` writes
        # the whole tap state at the end of every per-profile sync that emitted a record,
        # and with the fingerprint table in it that is megabytes per profile. The parent's
        # STATE messages (every STATE_MSG_FREQUENCY profiles, and at its end) carry the
        # table as it is once the records were written. Tested by
        # tests/sources/test_hrflow_attachments.py::test_state_is_written_by_the_parent_not_per_profile.
        return

    @property
    def fingerprints(self) -> dict[str, str]:
        """The stream state's fingerprint table (created empty)."""
        state = self.stream_state
        table = state.get(FINGERPRINTS)
        if not isinstance(table, dict):
            table = state[FINGERPRINTS] = {}
        return table

    def remember(self, slot: str, digests: list[str]) -> None:
        """A profile's entry: the fingerprints of the files stored, in a stable order (none: no entry)."""
        table = self.fingerprints
        if digests:
            table[slot] = "".join(sorted(set(digests)))
        else:
            table.pop(slot, None)

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """The profile's attachments not stored before: each downloaded, then its record."""
        profile_key = (context or {}).get("profile_key")
        source_key = (context or {}).get("source_key")
        if not profile_key:
            msg = f"hrflow stream '{self.name}' runs only as a child of 'hrflow_profiles'"
            raise RuntimeError(msg)
        if not source_key:
            raise self.failure(f"profile {profile_key}", "the profile has no source key; its files cannot be listed")
        slot = profile_slot(source_key, profile_key)
        known = set(split_digests(self.fingerprints.get(slot, "")))
        kept: list[str] = []
        wanted: list[tuple[str, dict[str, t.Any], str]] = []
        keys: set[str] = set()
        for item in self.listing(source_key, profile_key):
            key = attachment_key(item)
            if key is None:
                raise self.failure(f"profile {profile_key}", "an attachment has neither id nor file_name")
            if key in keys:
                raise self.failure(
                    f"profile {profile_key}", f"two attachments are named {key!r}: one would overwrite the other"
                )
            keys.add(key)
            digest = version_digest(source_key, profile_key, key, item)
            if digest in known:
                kept.append(digest)
            else:
                wanted.append((key, item, digest))
        self.unchanged += len(kept)
        self.remember(slot, kept)  # changed and removed files dropped: they are no longer "stored"
        calls = [
            functools.partial(self.attachment_record, source_key, profile_key, key, item) for key, item, _ in wanted
        ]
        records = self.client.workers.in_order(calls)  # side by side, in the listing's order
        try:
            for (_, _, digest), record in zip(wanted, records, strict=True):
                yield record
                kept.append(digest)  # the record is written: the file counts as stored
                self.remember(slot, kept)
        finally:
            records.close()  # a failure stops the downloads still running

    def listing(self, source_key: str, profile_key: str) -> list[dict[str, t.Any]]:
        """``GET /profile/indexing/attachments`` of one profile: its attachment objects.

        Asked in one of the source's workers, like the downloads: with the pages the parent
        fetches ahead, the source never has more than ``max_concurrent_requests`` calls in flight.
        """
        request = HTTPRequest(
            url=f"{self.client.base_url}{LISTING_PATH}", params={"source_key": source_key, "key": profile_key}
        )

        def call(task: Task) -> list[dict[str, t.Any]]:
            return self.client.call(request, self.read_listing, stream=self.name, where=f"profile {profile_key}")

        answers = self.client.workers.in_order([call])
        try:
            return next(answers)
        finally:
            answers.close()

    def read_listing(self, response: requests.Response) -> list[dict[str, t.Any]]:
        """The answer's ``data``, read and checked inside the retry: a list of objects (null: none)."""
        answer = self.client.read_json(response, stream=self.name)
        data = answer.json().get("data")
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            msg = f"{request_line(answer.request, answer.url)} answered without a list of attachments in data"
            raise AnswerError(msg)
        return data

    def attachment_record(
        self, source_key: str, profile_key: str, key: str, item: dict[str, t.Any], task: Task | None = None
    ) -> dict[str, t.Any]:
        """Download one attachment into storage and describe it (in a worker: ``task`` says when to stop)."""
        stored, content_type = self.download(source_key, profile_key, key, item, task)
        self.stats.add(bytes=stored.size, files=1)
        return {
            "source_key": source_key,
            "profile_key": profile_key,
            "attachment_key": key,
            "type": text(item.get("type")),
            "file_name": text(item.get("file_name")),
            "original_file_name": text(item.get("original_file_name")),
            "extension": text(item.get("extension")),
            "content_type": content_type,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
            "storage_uri": stored.uri,
            "content_base64": stored.content_base64,
            "created_at": iso_timestamp(item.get("created_at")),
            "updated_at": iso_timestamp(item.get("updated_at")),
            "raw": item,
        }

    def failure(self, where: str, reason: str) -> AttachmentError:
        """The error that stops the run: the stream, ``where`` (the profile, the attachment) and why."""
        return AttachmentError(f"{self.client.where(self.name, where)}: {reason}")

    def download(
        self, source_key: str, profile_key: str, key: str, item: dict[str, t.Any], task: Task | None = None
    ) -> tuple[StoredFile, str | None]:
        """The file at ``public_url`` stored under ``hrflow/{source}/{profile}/{key}``, and its Content-Type."""
        where = f"profile {profile_key}, attachment {key!r}"
        url = item.get("public_url")
        if not isinstance(url, str) or not url:
            raise self.failure(where, "the listing gives no public_url")
        if not allowed_transport(url):
            raise self.failure(where, f"public_url on {origin(url)} refused: files are downloaded over https only")
        credentials = origin(url) == origin(self.client.base_url)  # another host never sees the API key
        limit = int(self.settings["attachment_max_bytes"])
        listed = integer(item.get("file_size"))
        if listed is not None and listed > limit:
            raise self.failure(where, self.too_large(f"its file_size is {listed} bytes", limit))
        segments = ("hrflow", source_key, profile_key, key)
        storage = self._tap.storage
        held: list[PartialFile] = []
        content_type: list[str | None] = [None]

        def open_request() -> HTTPRequest:
            if held:  # a broken body: the file starts again
                held.pop().abort()
            held.append(storage.open_part(segments))
            return HTTPRequest(url=url)

        def read(response: requests.Response) -> Iterator[int]:
            part = held[-1]
            line = request_line(response.request, response.url)
            if response.status_code != HTTPStatus.OK:
                msg = f"{line} answered HTTP {response.status_code} to a plain GET"
                raise BrokenBodyError(msg)
            encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
            announced = None if encoded else integer(response.headers.get("Content-Length"))
            if announced is not None and announced > limit:
                raise AnswerError(self.too_large(f"{line} announced {announced} bytes", limit))
            for piece in response.iter_content(READ_BYTES):
                if task is not None and task.stopping:
                    msg = "stopped while downloading: its result is no longer wanted"
                    raise CallStoppedError(msg)
                if part.size + len(piece) > limit:
                    raise AnswerError(self.too_large(f"{line} sent more than {limit} bytes", limit))
                part.append(piece)
            if announced is not None and part.size != announced:
                msg = f"{line}: the body ended after {part.size} of {announced} bytes"
                raise BrokenBodyError(msg)
            content_type[0] = response.headers.get("Content-Type")
            yield part.size

        try:
            for _ in self.client.body(open_request, read, stream=self.name, where=where, authenticate=credentials):
                pass
        except BaseException:
            if held:
                held.pop().abort()
            raise
        return held.pop().commit(), content_type[0]

    @staticmethod
    def too_large(what: str, limit: int) -> str:
        """Why a file is refused for its size, and what to do about it."""
        return f"{what}, over hrflow.attachment_max_bytes ({limit}); not stored (raise the setting to load it)"

    @override
    def log_sync_costs(self) -> None:
        """The run's count of attachments left alone because an earlier run stored them as they are."""
        if self.unchanged:
            self.logger.info(
                "hrflow stream '%s': %d attachment(s) unchanged since an earlier run, not downloaded again",
                self.name,
                self.unchanged,
            )
        super().log_sync_costs()
