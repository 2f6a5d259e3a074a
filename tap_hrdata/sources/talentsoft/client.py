"""Talentsoft Recruiting: the client (one token per run), the export paging, the framed documents.

An export answer is a stream of frames, each a zip archive holding one document (a
vacancy's ``offerdetail`` or a candidate's ``applicantdetail`` plus one entry per
attachment, named by the attachment's id). Paging is by ``offset``/``limit`` with the
total in ``Content-Range``; a body that breaks is re-requested from the record after the
last one taken.
"""

from __future__ import annotations

import typing as t
import zipfile
from dataclasses import dataclass

from singer_sdk.pagination import OffsetPaginator
from typing_extensions import override

from tap_hrdata.framing import BadFrameError, FrameArchive
from tap_hrdata.http.auth import ClientCredentials
from tap_hrdata.http.client import VendorClient
from tap_hrdata.jsondecode import decode_json
from tap_hrdata.values import content_range

if t.TYPE_CHECKING:
    import logging

    import requests

    from tap_hrdata.http.auth import SourceAuthenticator


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
