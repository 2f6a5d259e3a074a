"""Talentsoft Recruiting: the client (one token per run), the export paging, the framed documents.

An export answer is a stream of frames, each a zip archive holding one document (a
vacancy's ``offerdetail`` or a candidate's ``applicantdetail`` plus one entry per
attachment, named by the attachment's id). Paging is by ``offset``/``limit`` with the
total in ``Content-Range``; a body that breaks is re-requested from the record after the
last one taken.

While a page is read, the next one is already on its way (:class:`NextPage`): its
``Content-Range`` says where a page ends, so the request for the page after it is sent
when its headers arrive, and its body is read in a worker into a spool (memory, then a
temporary file), so the wait for the vendor overlaps the reading of the page before.
"""

from __future__ import annotations

import functools
import tempfile
import typing as t
import zipfile
from dataclasses import dataclass

import requests
from singer_sdk.pagination import OffsetPaginator
from typing_extensions import override

from tap_hrdata.framing import BadFrameError, FrameArchive
from tap_hrdata.http.auth import ClientCredentials
from tap_hrdata.http.client import VendorClient
from tap_hrdata.jsondecode import decode_json
from tap_hrdata.values import content_range

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterator

    from singer_sdk.streams.rest import HTTPRequest

    from tap_hrdata.http.auth import SourceAuthenticator
    from tap_hrdata.http.concurrency import Ahead, Task

#: Network reads of an export body.
READ_CHUNK_BYTES = 1 << 20
#: A page fetched ahead is held in memory up to this size, then in a temporary file: memory
#: stays bounded by one frame whatever the page's size.
SPOOL_MEMORY_BYTES = 1 << 20
#: ... and read ahead up to this size: the rest of a larger page (a page of attachments) is
#: asked for from the record after the last one read from the spool, when the stream gets there.
SPOOL_MAX_BYTES = 64 << 20


class ExportDataError(BadFrameError):
    """An export document that cannot be read safely: named by stream and offset."""


class TalentsoftClient(VendorClient):
    """The Talentsoft client: one OAuth2 token per run (``POST {base_url}/api/token``)."""

    source = "talentsoft"

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        """Client credentials, the scope from the settings, ``bearer`` as the vendor writes it."""
        return ClientCredentials.of(
            self, f"{self.base_url}/api/token", scope=self.settings.get("scope"), scheme="bearer"
        )

    @override
    def failure_hint(self, status: int) -> str | None:
        """A refused token request means the credentials or scope."""
        return "check talentsoft.client_id, client_secret and scope" if status in (400, 401, 403) else None


class ExportPaginator(OffsetPaginator):
    """Offset paging over an export, advanced past the ``offset`` of the last record received.

    A page may take several responses when its body breaks: :attr:`position` is where the
    next request starts (after the last record taken), and the next page starts there too,
    whatever ``limit`` was. Positions follow the records' own ``offset`` (the bookmark),
    not a count, so a page that repeats a record neither skips the next one nor emits it twice.

    ``Content-Range``'s total ends paging once reached, unless the page came back full: a
    total that understates the export (``0-9/5`` with 35 records) must not end a run
    after one page while the data says more follows. :attr:`long_total` and
    :attr:`short_total` tell when the header and the data disagreed.
    """

    def __init__(self, start_value: int, page_size: int) -> None:
        super().__init__(start_value, page_size)
        #: Records taken from the current page, and frames it served (repeats included).
        self.received = 0
        self.served = 0
        self.position = start_value
        self.total: int | None = None
        #: The export ended before the announced total.
        self.short_total = False
        #: A record was taken at an offset the announced total says does not exist.
        self.long_total = False

    def take(self, offset: int) -> bool:
        """Count the record at ``offset``; False for a record before it (already taken)."""
        self.served += 1
        if offset < self.position:
            return False
        if self.total is not None and offset >= self.total:
            self.long_total = True
        self.position = offset + 1
        self.received += 1
        return True

    def read_total(self, response: requests.Response) -> None:
        """Take the export's total from a response's ``Content-Range``, when it gives one."""
        answered = content_range(response.headers.get("Content-Range"))
        if answered is not None and answered.total is not None:
            self.total = answered.total

    @override
    def has_more(self, response: requests.Response) -> bool:
        """More pages unless this page brought nothing, or the total is reached by a page not full."""
        if self.received == 0:
            self.short_total = self.total is not None and self.position < self.total
            return False
        return self.total is None or self.position < self.total or self.served >= self.page_size

    @override
    def get_next(self, response: requests.Response) -> int | None:
        """The offset after the last record taken."""
        return self.position

    def rewind(self, position: int) -> None:
        """Read again from ``position`` (before the current one), even when the last page seemed the end."""
        self.position = position
        self._finished = False  # the SDK's end-of-paging flag: paging goes on from ``position``

    @override
    def advance(self, response: requests.Response) -> None:
        """Move to the next page and reset the per-page counts."""
        super().advance(response)
        self.received = 0
        self.served = 0


@dataclass
class ExportDocument:
    """One export record: its JSON document and the zip it came in (for attachments)."""

    offset: int
    document: dict[str, t.Any]
    archive: FrameArchive


def parse_frame(
    frame: bytes | bytearray | memoryview, *, entry: str, limit: int, where: str, logger: logging.Logger
) -> ExportDocument:
    """Open a frame's zip (in place, no copy) and decode its JSON document ``entry``.

    ``where`` (``talentsoft stream 'vacancies': frame at offset 40``) starts every message.
    """
    try:
        archive = FrameArchive(frame, limit, where)
    except zipfile.BadZipFile as exc:
        msg = f"{where} is not a zip archive ({exc})"
        raise ExportDataError(msg) from exc
    try:
        document = decode_json(archive.read(entry), where=f"{where}: {entry}", logger=logger)
    except ValueError as exc:
        msg = f"{where}: {entry} is not valid JSON ({exc})"
        raise ExportDataError(msg) from exc
    offset = document.get("offset") if isinstance(document, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool):
        msg = f"{where}: {entry} has no integer 'offset'"
        raise ExportDataError(msg)
    return ExportDocument(offset=offset, document=document, archive=archive)


class SpooledResponse(requests.Response):
    """An export answer read whole ahead of need: the answer's status and headers, its body in a spool.

    It reads as the response it was (``iter_content``), so the page is parsed by the same
    code, in the stream's thread, as a page read from the network.
    """

    def __init__(self, answer: requests.Response, spool: t.IO[bytes], *, complete: bool) -> None:
        super().__init__()
        self.status_code = answer.status_code
        self.headers = answer.headers
        self.url = answer.url
        self.reason = answer.reason
        self.request = answer.request
        self.elapsed = answer.elapsed
        self._spool = spool
        #: False when only the first :data:`SPOOL_MAX_BYTES` of the body were read.
        self.complete = complete
        #: Bytes of the body in the spool.
        self.received = spool.tell()

    @override
    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[bytes]:
        """The body as received, from the spool."""
        self._spool.seek(0)
        while chunk := self._spool.read(chunk_size or READ_CHUNK_BYTES):
            yield chunk

    @override
    def close(self) -> None:
        """Let the spool (and its temporary file) go."""
        self._spool.close()


def spool_body(response: requests.Response, task: Task) -> Iterator[SpooledResponse]:
    """Read an answer's body (up to :data:`SPOOL_MAX_BYTES`) into a spool; nothing when the page is no longer wanted."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115  # handed on, closed by its reader
    complete = True
    try:
        for chunk in response.iter_content(READ_CHUNK_BYTES):
            if task.stopping:
                spool.close()
                return
            spool.write(chunk)
            if spool.tell() >= SPOOL_MAX_BYTES:
                complete = False
                break
    except BaseException:
        spool.close()
        raise
    yield SpooledResponse(response, spool, complete=complete)


class NextPage:
    """The export page after the one being read, requested ahead (``max_concurrent_requests`` over 1).

    :meth:`expect` is given each answer as its headers arrive: its ``Content-Range`` says
    where the page ends, and the next page is requested at once, read whole in a worker
    into a spool. :meth:`take` hands it over when the paginator, having read the page,
    lands where the prefetched page starts; otherwise (the records' offsets and the header
    disagreed, a page broke and was asked again from another offset) it is dropped and the
    page is requested as usual. Records and STATE stay in the stream's thread: a page
    fetched ahead is only bytes until the stream reads it.
    """

    def __init__(
        self,
        client: VendorClient,
        stream: str,
        page_size: int,
        build_request: Callable[[int], HTTPRequest],
    ) -> None:
        self.client = client
        self.stream = stream
        self.page_size = page_size
        self.build_request = build_request
        self.enabled = client.workers.threaded
        #: Where the page fetched ahead starts, and its call.
        self.start: int | None = None
        self._ahead: Ahead[SpooledResponse | None] | None = None

    def expect(self, response: requests.Response, total: int | None) -> None:
        """An answer's headers are in: request the page after it, unless it is the last."""
        if not self.enabled or (isinstance(response, SpooledResponse) and not response.complete):
            return  # (the rest of a page read ahead in part is asked again: the next page starts elsewhere)
        answered = content_range(response.headers.get("Content-Range"))
        if answered is None or answered.first is None or answered.last is None:
            return  # no range: where the page ends is known once it is read
        start = answered.last + 1
        full = answered.last - answered.first + 1 >= self.page_size
        if total is not None and start >= total and not full:
            self.drop()  # the last page: sequentially nothing would follow it either
            return
        if self.start == start:
            return
        self.drop()
        request = self.build_request(start)  # built here, in the stream's thread
        self.start = start
        self._ahead = self.client.workers.ahead(functools.partial(self._fetch, request, start))

    def _fetch(self, request: HTTPRequest, start: int, task: Task) -> SpooledResponse | None:
        """In a worker: the page's whole answer, with the client's retries, in a spool."""
        answers = self.client.body(
            lambda: request,
            functools.partial(spool_body, task=task),
            stream=self.stream,
            where=f"export at offset {start}",
        )
        try:
            return next(answers, None)
        finally:
            answers.close()

    def take(self, position: int) -> SpooledResponse | None:
        """The page fetched ahead when it starts at ``position`` (raising what fetching it raised), else None."""
        ahead, start = self._ahead, self.start
        if ahead is None or start != position:
            self.drop()
            return None
        self._ahead, self.start = None, None
        return ahead.result()

    def drop(self) -> None:
        """Not wanted: stop the call, wait for it, and let go of what it read."""
        ahead, self._ahead, self.start = self._ahead, None, None
        if ahead is None:
            return
        ahead.cancel()
        try:
            page = ahead.result()
        except Exception:  # a page nobody reads (or never started): its failure is not the run's
            return
        if page is not None:
            page.close()
