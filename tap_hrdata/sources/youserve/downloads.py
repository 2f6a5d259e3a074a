"""One YouServe file into storage, never more than one chunk in memory.

A file at or under ``chunk_size_bytes`` is streamed from one GET into storage; a larger
one is fetched after a HEAD as consecutive ``Range`` requests, each chunk checked
(status, ``Content-Range``, length) before it is appended, and a broken chunk is asked
for again from its own first byte. Nothing is published under the file's key until all
of its bytes are there and match the listed size.

A download runs in one of the source's workers, several files side by side: each worker
writes a chunk to storage before it asks for the next, so memory holds at most one chunk
per worker (``max_concurrent_requests`` chunks) whatever the files' sizes. The chunks of
one file are fetched one after the other. A download whose result is no longer wanted
(the run is stopping, an earlier file failed) stops between two pieces and drops its part.
"""

from __future__ import annotations

import functools
import typing as t
from http import HTTPStatus

from tap_hrdata.http.client import AnswerError
from tap_hrdata.http.concurrency import CallStoppedError
from tap_hrdata.http.retry import BrokenBodyError
from tap_hrdata.sources.youserve.client import FileDataError, drain
from tap_hrdata.values import content_range

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from requests.structures import CaseInsensitiveDict

    from tap_hrdata.http.concurrency import Task
    from tap_hrdata.sources.youserve.client import ListedFile, YouserveClient
    from tap_hrdata.stats import StreamStats
    from tap_hrdata.storage import FileStorage, PartialFile, StoredFile

READ_BYTES = 64 * 1024


def _go_on(task: Task | None) -> None:
    """Stop here (the part is dropped) if the download's result is no longer wanted."""
    if task is not None and task.stopping:
        msg = "stopped while downloading: its result is no longer wanted"
        raise CallStoppedError(msg)


class FileDownloader:
    """Downloads of one stream: its client, storage and statistics, and the chunk size."""

    def __init__(
        self,
        client: YouserveClient,
        storage: FileStorage,
        stats: StreamStats,
        *,
        stream: str,
        chunk_size: int,
    ) -> None:
        self.client = client
        self.storage = storage
        self.stats = stats
        self.stream = stream
        self.chunk_size = chunk_size

    def download(self, listed: ListedFile, segments: tuple[object, ...], task: Task | None = None) -> StoredFile:
        """Store a file's bytes under ``segments``; its size must match the listing (and HEAD).

        ``task``: the worker's, checked between pieces (a stopped one raises
        :class:`~tap_hrdata.http.concurrency.CallStoppedError`).
        """
        _go_on(task)
        if listed.size > self.chunk_size:
            head = self.client.call(self.client.file_request("HEAD", listed.file_id), _headers, stream=self.stream)
            if head.get("Content-Length", "").strip() != str(listed.size):
                msg = (
                    f"youserve stream '{self.stream}': file {listed.file_id}: HEAD gives Content-Length "
                    f"{head.get('Content-Length') or 'none'} but the listing says fileSize {listed.size}"
                )
                raise FileDataError(msg)
            units = {unit.strip().lower() for unit in head.get("Accept-Ranges", "").split(",")}
            if "bytes" in units:
                stored = self._ranged(listed, segments, task)
                self.stats.add(files=1)
                return stored
            self.client.logger.warning(
                "youserve stream '%s': file %s: no byte ranges offered, downloading in one streamed GET",
                self.stream,
                listed.file_id,
            )
        stored = self._whole(listed, segments, task)
        self.stats.add(bytes=stored.size, files=1)
        return stored

    def _whole(self, listed: ListedFile, segments: tuple[object, ...], task: Task | None) -> StoredFile:
        """One GET streamed into storage; a broken body starts the file (its only chunk) again."""
        parts: list[PartialFile] = []

        def open_request() -> t.Any:  # an HTTPRequest
            if parts:
                parts.pop().abort()
            parts.append(self.storage.open_part(segments))
            return self.client.file_request("GET", listed.file_id)

        def read(response: requests.Response) -> Iterator[int]:
            part = parts[-1]
            if response.status_code != HTTPStatus.OK:
                msg = f"HTTP {response.status_code} to a plain GET"
                raise BrokenBodyError(msg)
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.strip() != str(listed.size):
                msg = f"Content-Length {announced} differs from the listed fileSize {listed.size}"
                raise AnswerError(msg)
            for piece in response.iter_content(READ_BYTES):
                _go_on(task)
                if part.size + len(piece) > listed.size:
                    msg = f"the body is longer than the listed fileSize {listed.size}"
                    raise AnswerError(msg)
                part.append(piece)
            if part.size != listed.size:
                msg = f"body ended after {part.size} of {listed.size} bytes"
                raise BrokenBodyError(msg)
            yield part.size

        try:
            for _ in self.client.body(open_request, read, stream=self.stream, where=f"file {listed.file_id}"):
                pass
        except BaseException:
            if parts:
                parts.pop().abort()
            raise
        return parts.pop().commit()

    def _ranged(self, listed: ListedFile, segments: tuple[object, ...], task: Task | None) -> StoredFile:
        """One Range request per chunk; each chunk is checked before it is stored."""
        part = self.storage.open_part(segments)
        try:
            for first in range(0, listed.size, self.chunk_size):
                _go_on(task)
                last = min(first + self.chunk_size, listed.size) - 1
                for pieces in self.client.body(
                    functools.partial(
                        self.client.file_request, "GET", listed.file_id, {"Range": f"bytes={first}-{last}"}
                    ),
                    functools.partial(self._read_range, listed, part, first, last, task),
                    stream=self.stream,
                    where=f"file {listed.file_id} bytes {first}-{last}",
                    answers={HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE},
                ):
                    for piece in pieces:
                        part.append(piece)
                    pieces.clear()  # one chunk in memory, not this one and the next
                    self.stats.add(bytes=last - first + 1)  # progress lines during a long file
        except BaseException:
            part.abort()
            raise
        if part.size != listed.size:
            part.abort()
            msg = f"youserve stream '{self.stream}': file {listed.file_id}: got {part.size} of {listed.size} bytes"
            raise FileDataError(msg)
        return part.commit()

    @staticmethod
    def _read_range(  # noqa: PLR0917  # the chunk's place, then the answer (functools.partial)
        listed: ListedFile, part: PartialFile, first: int, last: int, task: Task | None, response: requests.Response
    ) -> Iterator[list[bytes]]:
        """The bytes ``first..last`` in memory (one chunk at most), checked, as one item."""
        status = response.status_code
        if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
            if part.size == listed.size:  # the end of a file whose bytes are all here
                return
            msg = f"range not satisfiable after {part.size} of {listed.size} bytes (the file is shorter than listed)"
            raise AnswerError(msg)
        if status != HTTPStatus.PARTIAL_CONTENT:
            # A 200 would be the whole file: it is not read (memory), the chunk is asked again.
            msg = f"HTTP {status} instead of 206 Partial Content"
            raise BrokenBodyError(msg)
        answered = content_range(response.headers.get("Content-Range"))
        if answered is None or (answered.unit, answered.first, answered.last, answered.total) != (
            "bytes",
            first,
            last,
            listed.size,
        ):
            msg = f"Content-Range {response.headers.get('Content-Range')!r} is not bytes {first}-{last}/{listed.size}"
            raise BrokenBodyError(msg)
        expected = last - first + 1
        pieces: list[bytes] = []
        received = 0
        for piece in response.iter_content(READ_BYTES):
            _go_on(task)
            received += len(piece)
            if received > expected:
                msg = f"the chunk is longer than {expected} bytes"
                raise BrokenBodyError(msg)
            pieces.append(piece)
        if received != expected:
            msg = f"the chunk ended after {received} of {expected} bytes"
            raise BrokenBodyError(msg)
        yield pieces


def _headers(response: requests.Response) -> CaseInsensitiveDict[str]:
    drain(response)  # nothing to read after a HEAD, but the connection is then reused
    return response.headers
