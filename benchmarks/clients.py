"""The clients the tap is compared with, each run as its own process by the runner.

``python -m benchmarks.clients KIND DATASET_JSON BASE_URL WORKDIR RESULT_FILE``

- ``wire``: the wire floor. The same requests as the job, each body pulled off the socket
  into one reused buffer and dropped. Nothing is parsed but the HTTP framing.
- ``job``: the job floor, hand-written: the least work the job needs. Talentsoft frames are
  read straight from the socket into one reused buffer, the zip members found from the
  central directory and checked (CRC-32), the JSON document decoded; attachments and
  files are hashed (sha256) and written to the same storage folder the tap uses
  (temporary name, then rename); every record is encoded as a JSON line to /dev/null.
- ``vendor``: the vendor's Python sample (shared/api-docs/talentsoft-exports-stream-examples.txt):
  its ``StreamingReader`` and its zip and JSON decoding (``namedtuple`` object hook),
  printing nothing. Talentsoft only.
- ``curve``: time to read each frame of an export with the vendor sample's reader, or with
  the tap's (``tap_hrdata.framing.iter_frames`` on ``requests``' ``iter_content``), for
  the frame-size curve.

Each writes a JSON result (records, body bytes, stored bytes ...) to RESULT_FILE; the
vendor sample rewrites it after every frame, since the runner may stop it at its deadline.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import sys
import time
import typing as t
import uuid
import zlib
from collections import namedtuple
from zipfile import ZipFile

import msgspec

from benchmarks import datasets as ds
from benchmarks import rawhttp

BUFFER_BYTES = 1 << 20
#: Bytes are checked, hashed and written this much at a time, so the three passes over a
#: piece find it in the CPU cache (whole 20 MB attachments would come from memory three times).
PIECE_BYTES = 1 << 20
_EOCD = struct.Struct("<IHHHHIIH")  # end of central directory, without its comment
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode


class Result:
    """What a client did, written to the result file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, t.Any] = {"records": 0, "body_bytes": 0, "stored_bytes": 0, "files": 0}
        self.started = time.perf_counter()

    def save(self, **extra: t.Any) -> None:
        self.data.update(extra)
        self.data["seconds"] = time.perf_counter() - self.started
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle)
        os.replace(tmp, self.path)


# ---- storage, as the tap's: <root>/<segments...>, written under a temporary name ------------------


def store(root: str, segments: tuple[str, ...], chunks: t.Iterable[memoryview | bytes]) -> tuple[int, str]:
    """Write ``chunks`` to ``root/segments`` atomically; (size, sha256)."""
    path = os.path.join(root, *segments)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.part-{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    os.replace(tmp, path)
    return size, digest.hexdigest()


# ---- zip, by hand: members found from the central directory, read in place --------------------


def zip_members(frame: memoryview) -> dict[str, tuple[int, int, int, int, int]]:
    """name -> (method, crc, compressed size, size, data offset) of a zip held in ``frame``."""
    end = len(frame) - _EOCD.size
    if _EOCD.unpack_from(frame, end)[0] != 0x06054B50:
        end = bytes(frame[-(1 << 16) :]).rfind(b"PK\x05\x06") + max(0, len(frame) - (1 << 16))
    _, _, _, _, count, _, cd_offset, _ = _EOCD.unpack_from(frame, end)
    members = {}
    pos = cd_offset
    for _ in range(count):
        fields = _CENTRAL.unpack_from(frame, pos)
        if fields[0] != 0x02014B50:
            msg = "bad central directory"
            raise ValueError(msg)
        method, crc, csize, size = fields[4], fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len, local = fields[10], fields[11], fields[12], fields[16]
        name = bytes(frame[pos + 46 : pos + 46 + name_len]).decode("utf-8")
        local_fields = _LOCAL.unpack_from(frame, local)
        data = local + _LOCAL.size + local_fields[9] + local_fields[10]
        members[name] = (method, crc, csize, size, data)
        pos += 46 + name_len + extra_len + comment_len
    return members


def member_bytes(frame: memoryview, member: tuple[int, int, int, int, int]) -> memoryview | bytes:
    """A member's bytes (a view of the frame when stored), its CRC-32 checked."""
    return b"".join(member_pieces(frame, member))


def member_pieces(frame: memoryview, member: tuple[int, int, int, int, int]) -> t.Iterator[memoryview | bytes]:
    """A member's bytes in pieces (views of the frame when stored), its CRC-32 checked at the end."""
    method, crc, csize, size, data = member
    raw = frame[data : data + csize]
    content: memoryview | bytes = raw if method == 0 else zlib.decompress(raw, -15, size)
    running = 0
    for pos in range(0, len(content), PIECE_BYTES):
        piece = content[pos : pos + PIECE_BYTES]
        running = zlib.crc32(piece, running)
        yield piece
    if len(content) != size or running != crc:
        msg = "zip member fails its size or CRC check"
        raise ValueError(msg)


# ---- Talentsoft ---------------------------------------------------------------------------------


def client_credentials_token(token_url: str, credentials: dict[str, str]) -> str:
    """An OAuth2 client-credentials token (Talentsoft and YouServe ask the same way)."""
    body = (
        f"grant_type=client_credentials&client_id={credentials['client_id']}"
        f"&client_secret={credentials['client_secret']}"
    ).encode()
    response = rawhttp.request(
        "POST", token_url, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
    )
    token = rawhttp.expect(response, 200).json()["access_token"]
    response.close()
    return str(token)


def talentsoft_token(base: str) -> str:
    return client_credentials_token(base + "/api/token", ds.TALENTSOFT)


def talentsoft_pages(base: str, export: str) -> t.Iterator[rawhttp.Response]:
    """Each page of an export, as a response whose body is unread."""
    headers = {"Authorization": "bearer " + talentsoft_token(base)}
    offset = 0
    while True:
        response = rawhttp.expect(
            rawhttp.request(
                "GET",
                f"{base}/api/exports/v1/{export}",
                params={"offset": offset, "limit": ds.PAGE_SIZE},
                headers=headers,
            ),
            200,
        )
        span, _, total = response.headers["content-range"].partition("/")
        if span.strip() == "*":
            response.close()
            return
        first, _, last = span.split()[-1].partition("-")
        served = int(last) - int(first) + 1
        yield response
        response.close()
        offset += served
        if offset >= int(total):
            return


def drain(response: rawhttp.Response, result: Result, buffer: memoryview) -> None:
    while n := response.readinto(buffer):
        result.data["body_bytes"] += n


class FrameBuffer:
    """One buffer for every frame, grown to the largest."""

    def __init__(self) -> None:
        self.buffer = bytearray(BUFFER_BYTES)

    def read(self, response: rawhttp.Response) -> memoryview | None:
        header = memoryview(self.buffer)[:4]
        got = response.readexactly(header)
        if got == 0:
            return None
        length = int.from_bytes(header, "little")
        if length > len(self.buffer):
            self.buffer = bytearray(length)
        view = memoryview(self.buffer)[:length]
        if got != 4 or response.readexactly(view) != length:
            msg = "body ended inside a frame"
            raise ConnectionError(msg)
        return view


def talentsoft_job(dataset: dict[str, t.Any], base: str, workdir: str, result: Result, out: t.IO[bytes]) -> None:
    export = ds.export_of(dataset["case"])
    entry, detail = ("offerdetail", "offerDetail") if export == "vacancies" else ("applicantdetail", "candidateDetail")
    frames = FrameBuffer()
    for response in talentsoft_pages(base, export):
        while (frame := frames.read(response)) is not None:
            result.data["body_bytes"] += len(frame) + 4
            if export == "candidates":
                result.data.setdefault("frame_bytes", []).append(len(frame))
            members = zip_members(frame)
            document = _DECODE(member_bytes(frame, members[entry]))
            item = document[detail]
            result.data["records"] += 1
            if export == "vacancies":
                out.write(_ENCODE({"stream": "vacancies", "reference": item["reference"], "raw": document}))
                out.write(b"\n")
                continue
            candidate = str(item["id"])
            out.write(_ENCODE({"stream": "candidates", "id": candidate, "raw": document}))
            out.write(b"\n")
            for application in document.get("applications") or []:
                out.write(_ENCODE({"stream": "applications", "candidate_id": candidate, "raw": application}))
                out.write(b"\n")
            for meta in document.get("attachments") or []:
                pieces = member_pieces(frame, members[meta["id"]])
                size, sha = store(workdir, ("talentsoft", "attachments", candidate, meta["id"]), pieces)
                result.data["stored_bytes"] += size
                result.data["files"] += 1
                out.write(_ENCODE({"stream": "attachments", "sha256": sha, "size": size, "raw": meta}))
                out.write(b"\n")


# ---- YouServe -----------------------------------------------------------------------------------


def youserve_session(base: str) -> tuple[dict[str, str], list[dict[str, t.Any]]]:
    token = client_credentials_token(base + "/authentication/token", ds.YOUSERVE)
    headers = {"Authorization": "Bearer " + token, "x-raet-tenant-id": ds.YOUSERVE["tenant_id"]}
    listing = rawhttp.expect(
        rawhttp.request(
            "GET",
            base + "/fileapi/v1.0/files",
            params={
                "role": "subscriber",
                "pageIndex": 0,
                "pageSize": 100,
                "$filter": f"status eq 'all' and businessType eq {ds.YOUSERVE_BUSINESS_TYPE}",
                "$orderBy": "uploadDate asc",
            },
            headers={**headers, "Accept": "application/json"},
        ),
        200,
    )
    files = listing.json()["data"]
    listing.close()
    return {**headers, "Accept": "application/octet-stream"}, files


def youserve_ranges(base: str, headers: dict[str, str], entry: dict[str, t.Any]) -> t.Iterator[rawhttp.Response]:
    url = f"{base}/fileapi/v1.0/files/{entry['fileId']}"
    head = rawhttp.expect(rawhttp.request("HEAD", url, params={"role": "subscriber"}, headers=headers), 200)
    head.close()
    size = int(entry["fileSize"])
    for first in range(0, size, ds.YOUSERVE_CHUNK):
        last = min(first + ds.YOUSERVE_CHUNK, size) - 1
        response = rawhttp.expect(
            rawhttp.request(
                "GET", url, params={"role": "subscriber"}, headers={**headers, "Range": f"bytes={first}-{last}"}
            ),
            206,
        )
        yield response
        response.close()


def youserve_job(base: str, workdir: str, result: Result, out: t.IO[bytes]) -> None:
    headers, files = youserve_session(base)
    chunk = memoryview(bytearray(ds.YOUSERVE_CHUNK))
    for entry in files:

        def chunks(entry: dict[str, t.Any] = entry) -> t.Iterator[memoryview]:
            for response in youserve_ranges(base, headers, entry):
                n = response.readexactly(chunk)
                if response.readinto(chunk[:1]):
                    msg = "range longer than asked"
                    raise ValueError(msg)
                result.data["body_bytes"] += n
                for pos in range(0, n, PIECE_BYTES):
                    yield chunk[pos : min(n, pos + PIECE_BYTES)]

        segments = ("youserve", ds.YOUSERVE["tenant_id"], str(ds.YOUSERVE_BUSINESS_TYPE), entry["fileId"])
        size, sha = store(workdir, segments, chunks())
        if size != entry["fileSize"]:
            msg = f"stored {size} of {entry['fileSize']} bytes"
            raise ValueError(msg)
        result.data["stored_bytes"] += size
        result.data["files"] += 1
        result.data["records"] += 1
        out.write(_ENCODE({"stream": "delivered_files", "sha256": sha, "raw": entry}) + b"\n")


# ---- Coresignal ---------------------------------------------------------------------------------


def coresignal_files(base: str) -> t.Iterator[rawhttp.Response]:
    headers = {"Authorization": "Bearer " + ds.CORESIGNAL["api_token"]}
    posted = rawhttp.expect(
        rawhttp.request(
            "POST",
            base + "/v1/professional_network/job/bulk_collect/filter",
            headers={**headers, "Content-Type": "application/json"},
            body=json.dumps({"filters": ds.CORESIGNAL_FILTERS}).encode(),
        ),
        200,
    )
    request_id = posted.json()["request_id"]
    posted.close()
    names: list[str] = []
    while not names:
        listing = rawhttp.expect(
            rawhttp.request("GET", f"{base}/v1/bulk_collect/{request_id}/files", headers=headers), 200
        )
        names = listing.json()["data_request_files"]
        listing.close()
    for name in names:
        response = rawhttp.expect(
            rawhttp.request("GET", f"{base}/v1/bulk_collect/{request_id}/files/{name}", headers=headers), 200
        )
        yield response
        response.close()


def coresignal_job(base: str, result: Result, out: t.IO[bytes]) -> None:
    buffer = memoryview(bytearray(BUFFER_BYTES))
    for response in coresignal_files(base):
        inflater = zlib.decompressobj(31)
        tail = b""
        while n := response.readinto(buffer):
            result.data["body_bytes"] += n
            lines = (tail + inflater.decompress(buffer[:n])).split(b"\n")
            tail = lines.pop()
            for line in lines:
                job = _DECODE(line)
                out.write(_ENCODE({"stream": "bulk_jobs", "id": job["id"], "raw": job}))
                out.write(b"\n")
            result.data["records"] += len(lines)
        if tail or not inflater.eof:
            msg = "truncated gzip file"
            raise ValueError(msg)


# ---- the vendor's Python sample ------------------------------------------------------------------


def vendor_sample(dataset: dict[str, t.Any], base: str, result: Result) -> None:
    """The sample's algorithm, verbatim but for paging over the whole export and printing nothing."""
    import requests

    class StreamingReader:
        def __init__(self, response: requests.Response) -> None:
            self._response = response
            self._buffer = b""
            self._responseIter: t.Iterator[bytes] | None = None

        def getFiles(self) -> t.Iterator[bytes]:  # noqa: N802
            while not self._response._content_consumed:
                try:
                    header = self._getChunk(4)
                    nextBlockSize = self._getSizeFromHeader(header)  # noqa: N806
                    yield self._getChunk(nextBlockSize)
                except StopIteration:
                    return

        def _getChunk(self, size: int) -> bytes:  # noqa: N802
            if self._responseIter is None:
                self._responseIter = iter(self._response.iter_content(chunk_size=4096))
            while len(self._buffer) < size:
                self._buffer += next(self._responseIter)
            currentChunk = self._buffer[:size]  # noqa: N806
            self._buffer = self._buffer[size:]
            return currentChunk

        def _getSizeFromHeader(self, header: bytes) -> int:  # noqa: N802
            return int.from_bytes(header, byteorder="little")

    def hook(d: dict[str, t.Any]) -> t.Any:
        return namedtuple("X", d.keys())(*d.values())

    def read_vacancy_zip(data: bytes) -> None:
        archive = ZipFile(io.BytesIO(data))
        offer_detail = archive.read("offerdetail")
        document = json.loads(str(offer_detail, "utf-8"), object_hook=hook)
        _ = (document.offset, document.offerDetail.reference)

    def read_candidate_zip(data: bytes) -> None:
        archive = ZipFile(io.BytesIO(data))
        candidate_detail = archive.read("applicantdetail")
        document = json.loads(str(candidate_detail, "utf-8"), object_hook=hook)
        _ = (document.offset, document.candidateDetail.id, len(document.applications))
        for file in iter(document.attachments):
            content = archive.read(file.id)
            result.data["stored_bytes"] += len(content)  # read, as the sample does; never stored
            result.data["files"] += 1

    token_response = requests.post(
        base + "/api/token",
        data=f"grant_type=client_credentials&client_id={ds.TALENTSOFT['client_id']}&client_secret={ds.TALENTSOFT['client_secret']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    headers = {"Authorization": "bearer " + token_response.json()["access_token"]}
    export = ds.export_of(dataset["case"])
    read_zip = read_vacancy_zip if export == "vacancies" else read_candidate_zip
    offset = 0
    while True:
        response = requests.get(
            f"{base}/api/exports/v1/{export}?offset={offset}&limit={ds.PAGE_SIZE}",
            headers=headers,
            stream=True,
            timeout=600,
        )
        content_range = response.headers["Content-Range"]
        result_count = int(content_range[content_range.index("/") + 1 :])
        served = 0
        for frame in StreamingReader(response).getFiles():
            read_zip(frame)
            served += 1
            result.data["records"] += 1
            result.data["body_bytes"] += len(frame) + 4
            if export != "vacancies" or result.data["records"] % 1000 == 0:
                result.save()
        offset += served
        if served == 0 or offset >= result_count:
            return


# ---- the frame-size curve -------------------------------------------------------------------------


def curve(reader: str, base: str, result: Result) -> None:
    """Seconds to read each frame of the export, with the vendor sample's reader or the tap's."""
    import requests

    from tap_hrdata.framing import iter_frames

    token = requests.post(
        base + "/api/token",
        data={"grant_type": "client_credentials", **ds.TALENTSOFT},
        timeout=60,
    ).json()["access_token"]
    response = requests.get(
        f"{base}/api/exports/v1/candidates?offset=0&limit={ds.PAGE_SIZE}",
        headers={"Authorization": "bearer " + token},
        stream=True,
        timeout=600,
    )
    if reader == "vendor":
        chunks = response.iter_content(chunk_size=4096)
        buffer = b""

        def frames() -> t.Iterator[bytes]:
            nonlocal buffer

            def get(size: int) -> bytes:
                nonlocal buffer
                while len(buffer) < size:
                    buffer += next(chunks)
                current = buffer[:size]
                buffer = buffer[size:]
                return current

            while True:
                try:
                    header = get(4)
                except StopIteration:
                    return
                yield get(int.from_bytes(header, "little"))

        source: t.Iterator[bytes | bytearray] = frames()
    else:
        source = iter_frames(response.iter_content(1 << 20), 1 << 30)
    seconds = []
    sizes = []
    while True:
        started = time.perf_counter()
        frame = next(source, None)
        if frame is None:
            break
        seconds.append(time.perf_counter() - started)
        sizes.append(len(frame))
        del frame
    result.save(frame_seconds=seconds, frame_bytes=sizes, records=len(sizes), body_bytes=sum(sizes) + 4 * len(sizes))


def main(argv: list[str] | None = None) -> int:
    kind, dataset_json, base, workdir, result_path = (sys.argv[1:] if argv is None else argv)[:5]
    dataset = json.loads(dataset_json)
    result = Result(result_path)
    vendor = ds.vendor_of(dataset["case"])
    buffer = memoryview(bytearray(BUFFER_BYTES))
    with open(os.devnull, "wb") as out:
        if kind == "wire":
            if vendor == "talentsoft":
                pages = talentsoft_pages(base, ds.export_of(dataset["case"]))
            elif vendor == "youserve":
                headers, files = youserve_session(base)
                pages = (r for entry in files for r in youserve_ranges(base, headers, entry))
            else:
                pages = coresignal_files(base)
            for response in pages:
                drain(response, result, buffer)
            result.data["records"] = dataset["records"]  # served; not parsed
        elif kind == "job":
            if vendor == "talentsoft":
                talentsoft_job(dataset, base, workdir, result, out)
            elif vendor == "youserve":
                youserve_job(base, workdir, result, out)
            else:
                coresignal_job(base, result, out)
        elif kind == "vendor":
            vendor_sample(dataset, base, result)
        elif kind.startswith("curve-"):
            curve(kind.removeprefix("curve-"), base, result)
            return 0
        else:
            msg = f"unknown client {kind!r}"
            raise SystemExit(msg)
    result.save(done=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
