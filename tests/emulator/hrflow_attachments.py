"""HrFlow profile attachments for the emulator: the attachment listing and the files it points at.

Wired into :class:`~tests.emulator.hrflow.HrflowEmulator` as ``vendor.attachments``. It serves:

* ``GET /profile/indexing/attachments``: what HrFlow's Python SDK sends
  (``Riminder/python-hrflow-api``, ``hrflow/profile/attachment.py``: ``ProfileAttachments.list``
  is ``client.get("profile/indexing/attachments", format_item_payload("profile", source_key, key,
  reference, email))``, and ``hrflow/core/__init__.py``'s ``format_item_payload`` sends
  ``source_key`` plus ``key``, ``reference`` and/or ``profile_email``). Strict like the rest of
  the emulator: ``source_key`` and one of ``key`` / ``reference`` / ``profile_email`` are
  required, nothing else is accepted, each at most once; errors come back in HTTP 200 bodies.
* ``GET /storage/{token}``: the bytes at an attachment's ``public_url``.

What is HrFlow's and what is our guess:

* The answer envelope ``{"code": 200, "message": "Profile's attachment list", "data": [...]}``
  without ``meta``, and the unknown-profile answer ``{"code": 400, "message": "Invalid profile
  array"}`` (in an HTTP 200 body, as every HrFlow error) follow HrFlow's API reference for the
  endpoint's older name (``Riminder/docs-api``, ``api-reference/profile-api/get-profile-attachments.md``).
* Each attachment has the fields of the SDK's ``Attachment`` model (``hrflow/schemas.py``):
  ``type`` (``resume``, ``original``), ``alt``, ``file_size``, ``file_name``,
  ``original_file_name``, ``extension``, ``public_url``, ``created_at``, ``updated_at``.
  ``file_size`` is a string of digits in the ``current`` shape (the model's type) and an integer
  in the ``seed`` shape (the API reference's example). No attachment has an ``id`` (neither
  source shows one): the tap keys attachments by ``file_name``.
* Our guesses: the timestamps' format (HrFlow's ``2020-07-22T09:11:32+0000``, as on profiles);
  ``public_url`` is a pre-signed object-store URL on another host (the reference shows
  ``www.hrflow.ai`` next to the API's ``api.hrflow.ai``; HrFlow's parsed documents live in S3),
  with an ``X-Amz-Signature`` that changes at every listing.

The data, generated lazily per profile from its place in creation order (so every data set
has all three cases): profile 0, 3, 6 ... has no attachment; 1, 4, 7 ... a ``resume`` whose
``public_url`` is on **another origin**; 2, 5, 8 ... that resume and an ``original`` (a .docx)
on the API's own origin. "Another origin" is the same server reached by another host name:
``localhost`` when the request came to ``127.0.0.1`` and the other way round (loopback, so
plain http is allowed), which makes the tap treat it as a foreign host. A same-origin file
answers only requests that carry the API key (as an API endpoint would); a foreign one
answers any request and records what it was sent (:attr:`HrflowAttachments.file_requests`),
so a test can prove no credential went there. Bytes are deterministic per attachment and
version; other-origin files are sent with a Content-Length, same-origin ones chunked in
irregular pieces.

The profile objects' own inline ``attachments`` (made by ``hrflow.py``) are left as they are;
the tap reads only this listing.

Test knobs: :attr:`HrflowAttachments.delay_seconds` (each request takes that long, so calls
side by side show in ``in_flight``), :meth:`HrflowAttachments.change` (new bytes and ``updated_at``),
:meth:`HrflowAttachments.add` (a hostile name, an oversized file, a size the listing
understates), :meth:`HrflowAttachments.of` and :meth:`HrflowAttachments.content`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import time
from typing import TYPE_CHECKING, Any

from tests.emulator.server import Response

if TYPE_CHECKING:
    from tests.emulator.hrflow import HrflowEmulator
    from tests.emulator.server import Request

LISTING_PATH = "/profile/indexing/attachments"
FILE_PREFIX = "/storage/"
LISTING_MESSAGE = "Profile's attachment list"
NOT_FOUND_MESSAGE = "Invalid profile array"
#: Which profile is asked for: one of these (the SDK's ``format_item_payload``).
PROFILE_SELECTORS = ("key", "reference", "profile_email")
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
#: Bytes of a generated file: from MIN_BYTES to MIN_BYTES + SPREAD_BYTES.
MIN_BYTES = 1_000
SPREAD_BYTES = 90_000


@dataclasses.dataclass
class StoredAttachment:
    """One attachment of a profile, as the emulator keeps it."""

    profile_key: str
    token: str
    type: str
    file_name: str
    original_file_name: str
    extension: str
    created_at: str
    updated_at: str
    #: True: its ``public_url`` is on the other host name (a foreign origin for the tap).
    other_origin: bool
    version: int = 1
    #: Bytes served; None: generated from the version.
    size: int | None = None
    #: ``file_size`` the listing shows when it is not the real size (a listing that understates).
    declared_size: int | None = None
    #: The host (``name:port``) its ``public_url`` named in the last listing: the only one serving it.
    url_host: str | None = None
    _memo: tuple[int, bytes] | None = dataclasses.field(default=None, repr=False, compare=False)

    def content(self) -> bytes:
        """The file's bytes: deterministic per attachment and version (made once per version)."""
        if self._memo is None or self._memo[0] != self.version:
            self._memo = (self.version, self._make())
        return self._memo[1]

    def _make(self) -> bytes:
        seed = f"{self.profile_key}/{self.file_name}/v{self.version}"
        size = self.size
        if size is None:
            size = MIN_BYTES + int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % SPREAD_BYTES
        head = f"%EMULATED {self.extension} {seed}\n".encode()
        blocks = itertools.count()
        out = bytearray(head)
        while len(out) < size:
            out += hashlib.sha256(f"{seed}#{next(blocks)}".encode()).digest()
        return bytes(out[:size])


@dataclasses.dataclass(frozen=True)
class FileRequest:
    """One request for a file: where it came in and the headers it carried (lower-case names)."""

    token: str
    host: str
    headers: dict[str, str]
    status: int


class HrflowAttachments:
    """The attachments of an :class:`HrflowEmulator`'s profiles (see the module docstring)."""

    def __init__(self, emulator: HrflowEmulator) -> None:
        self._emulator = emulator
        self._files: dict[str, list[StoredAttachment]] = {}  # profile key -> its attachments (made lazily)
        self._by_token: dict[str, StoredAttachment] = {}
        self._signatures = itertools.count(1)
        #: Every file request, in order.
        self.file_requests: list[FileRequest] = []
        #: Listing requests answered (code 200 or not).
        self.listings = 0
        #: Seconds each listing and file request takes (counted in the emulator's ``in_flight``).
        self.delay_seconds = 0.0

    # ------------------------------------------------------------------ test helpers

    def of(self, profile_key: str) -> list[StoredAttachment]:
        """The attachments of a profile (the live objects), made on first use."""
        with self._emulator._lock:  # the emulator's own lock: one vendor, one lock
            return self._of(profile_key)

    def profiles_with(self, count: int) -> list[str]:
        """Keys of the profiles with ``count`` attachments, in creation order."""
        with self._emulator._lock:
            return [key for key in self._emulator._profiles if len(self._of(key)) == count]

    def content(self, profile_key: str, file_name: str) -> bytes:
        """The bytes a profile's attachment ``file_name`` serves now."""
        return self._find(profile_key, file_name).content()

    def change(self, profile_key: str, file_name: str) -> StoredAttachment:
        """A new version of an attachment: new bytes, ``updated_at`` now (the profile is not touched)."""
        with self._emulator._lock:
            attachment = self._find(profile_key, file_name)
            attachment.version += 1
            attachment.updated_at = self._emulator._now_stamp()
            return attachment

    def add(
        self,
        profile_key: str,
        file_name: str,
        *,
        type: str = "original",  # HrFlow's field name
        other_origin: bool = True,
        size: int | None = None,
        declared_size: int | None = None,
        extension: str = ".pdf",
    ) -> StoredAttachment:
        """Another attachment on a profile (any ``file_name``, a hostile one included), created now."""
        with self._emulator._lock:
            files = self._of(profile_key)
            stamp = self._emulator._now_stamp()
            attachment = StoredAttachment(
                profile_key=profile_key,
                token=_token(profile_key, len(files), file_name),
                type=type,
                file_name=file_name,
                original_file_name=file_name,
                extension=extension,
                created_at=stamp,
                updated_at=stamp,
                other_origin=other_origin,
                size=size,
                declared_size=declared_size,
            )
            files.append(attachment)
            self._by_token[attachment.token] = attachment
            return attachment

    def downloads(self, profile_key: str | None = None) -> list[FileRequest]:
        """The file requests answered 200 (of one profile's attachments, or all)."""
        return [
            r
            for r in self.file_requests
            if r.status == 200 and (profile_key is None or self._by_token[r.token].profile_key == profile_key)
        ]

    # ------------------------------------------------------------------ HTTP

    def answer(self, request: Request) -> Response | None:
        """The answer to a listing or file request; None for any other path (the emulator's)."""
        if self.delay_seconds and (request.path == LISTING_PATH or request.path.startswith(FILE_PREFIX)):
            time.sleep(self.delay_seconds)  # outside the lock: requests side by side overlap
        if request.path == LISTING_PATH:
            return self._listing(request)
        if request.path.startswith(FILE_PREFIX):
            return self._file(request)
        return None

    def _listing(self, request: Request) -> Response:
        emulator = self._emulator
        with emulator._lock:
            self.listings += 1
            if request.method != "GET":
                return _error(405, f"Method {request.method} not allowed on {request.path}", status=405)
            if not self._authorized(request):
                return _error(401, "Unauthorized. Invalid secret key")
            unknown = sorted(set(request.query) - {"source_key", *PROFILE_SELECTORS})
            if unknown:
                return _error(400, f"Unknown query parameter(s): {', '.join(unknown)}")
            repeated = sorted(name for name, values in request.query.items() if len(values) > 1)
            if repeated:
                return _error(400, f"Query parameter(s) given more than once: {', '.join(repeated)}")
            args = {name: values[0] for name, values in request.query.items()}
            if not args.get("source_key"):
                return _error(400, "source_key is required")
            if not any(args.get(name) for name in PROFILE_SELECTORS):
                return _error(400, "one of key, reference or profile_email is required")
            profile = self._profile(args)
            if profile is None:
                return _error(400, NOT_FOUND_MESSAGE)
            signature = f"{next(self._signatures):064x}"
            data = [self._item(a, request, signature) for a in self._of(profile["key"])]
        body = {"code": 200, "message": LISTING_MESSAGE, "data": data}
        return Response(status=200, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    def _file(self, request: Request) -> Response:
        token = request.path[len(FILE_PREFIX) :]
        host = request.headers.get("Host") or ""
        with self._emulator._lock:
            attachment = self._by_token.get(token)
            status = 200
            if request.method != "GET" or attachment is None or not request.arg("X-Amz-Signature"):
                status = 404
            elif host != attachment.url_host:
                status = 404  # asked at a host the URL does not name
            elif not attachment.other_origin and not self._authorized(request):
                status = 401
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.file_requests.append(FileRequest(token, host, headers, status))
            if status != 200 or attachment is None:
                return Response(status=status, body=b"<Error><Code>NoSuchKey</Code></Error>")
            content = attachment.content()
            kind = CONTENT_TYPES.get(attachment.extension, "application/octet-stream")
        return Response(status=200, body=content, headers={"Content-Type": kind}, chunked=not attachment.other_origin)

    # ------------------------------------------------------------------ data

    def _authorized(self, request: Request) -> bool:
        emulator = self._emulator
        return (
            request.headers.get("X-API-KEY") == emulator.api_key
            and request.headers.get("X-USER-EMAIL") == emulator.user_email
        )

    def _profile(self, args: dict[str, str]) -> dict[str, Any] | None:
        """The profile of ``source_key`` every selector given names; None when there is none."""
        for profile in self._emulator._profiles.values():
            if profile["source"]["key"] != args["source_key"]:
                continue
            named = {
                "key": profile["key"],
                "reference": profile.get("reference"),
                "profile_email": (profile.get("info") or {}).get("email"),
            }
            if all(named[name] == args[name] for name in PROFILE_SELECTORS if args.get(name)):
                return profile
        return None

    def _of(self, profile_key: str) -> list[StoredAttachment]:
        files = self._files.get(profile_key)
        if files is not None:
            return files
        profiles = self._emulator._profiles
        profile = profiles[profile_key]
        place = list(profiles).index(profile_key) % 3
        stamp = profile["created_at"]
        files = []
        if place >= 1:
            files.append(self._new(profile_key, 0, "resume", ".pdf", "CV final (2).pdf", stamp, other_origin=True))
        if place == 2:
            files.append(self._new(profile_key, 1, "original", ".docx", "CV final (2).docx", stamp, other_origin=False))
        self._files[profile_key] = files
        return files

    def _new(  # noqa: PLR0917
        self, profile_key: str, index: int, kind: str, extension: str, original: str, stamp: str, *, other_origin: bool
    ) -> StoredAttachment:
        file_name = f"{profile_key}{'' if kind == 'resume' else '-' + kind}{extension}"
        attachment = StoredAttachment(
            profile_key=profile_key,
            token=_token(profile_key, index, file_name),
            type=kind,
            file_name=file_name,
            original_file_name=original,
            extension=extension,
            created_at=stamp,
            updated_at=stamp,
            other_origin=other_origin,
        )
        self._by_token[attachment.token] = attachment
        return attachment

    def _find(self, profile_key: str, file_name: str) -> StoredAttachment:
        for attachment in self.of(profile_key):
            if attachment.file_name == file_name:
                return attachment
        raise KeyError((profile_key, file_name))

    def _item(self, attachment: StoredAttachment, request: Request, signature: str) -> dict[str, Any]:
        """The listing object: the SDK model's fields, ``public_url`` on the host it belongs to."""
        host = request.headers.get("Host") or "127.0.0.1"
        if attachment.other_origin:
            host = _swapped(host)
        attachment.url_host = host
        size = attachment.declared_size if attachment.declared_size is not None else len(attachment.content())
        item: dict[str, Any] = {
            "type": attachment.type,
            "alt": attachment.profile_key,
            "file_size": str(size) if self._emulator.shape == "current" else size,
            "file_name": attachment.file_name,
            "original_file_name": attachment.original_file_name,
            "extension": attachment.extension,
            "public_url": (
                f"http://{host}{self._emulator.prefix}{FILE_PREFIX}{attachment.token}"
                f"?X-Amz-Expires=3600&X-Amz-Signature={signature}"
            ),
            "created_at": attachment.created_at,
            "updated_at": attachment.updated_at,
        }
        return copy.deepcopy(item)


def _token(profile_key: str, index: int, file_name: str) -> str:
    """The path of a file at the store: opaque, so no server-given name is in a URL path."""
    return hashlib.sha256(f"{profile_key}/{index}/{file_name}".encode()).hexdigest()[:32]


_HOST = re.compile(r"^(?P<name>\[[^\]]*\]|[^:]*)(?::(?P<port>\d+))?$")


def _split(host: str) -> tuple[str, str]:
    match = _HOST.match(host)
    if match is None:
        return host, ""
    return match["name"], f":{match['port']}" if match["port"] else ""


def _swapped(host: str) -> str:
    """The other loopback name for the same server: 127.0.0.1 <-> localhost, same port."""
    name, port = _split(host)
    return f"{'127.0.0.1' if name.lower() == 'localhost' else 'localhost'}{port}"


def _error(code: int, message: str, status: int = 200) -> Response:
    body = {"code": code, "message": message}
    return Response(status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
