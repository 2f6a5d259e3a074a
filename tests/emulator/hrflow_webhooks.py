"""HrFlow.ai webhooks as the vendor sends them: signed events POSTed to a callback URL, for tests.

The signature is the one HrFlow's Python SDK verifies (``hrflow/webhook/__init__.py`` of
Riminder/python-hrflow-api, ``Webhook._decode_request``): the ``HTTP-HRFLOW-SIGNATURE``
header holds ``base64url(signature) + "." + base64url(payload)``, ``payload`` the event's
JSON text and ``signature`` the hex digest of HMAC-SHA256(webhook_secret, payload). The
body repeats the payload (the vendor's documentation: JSON, UTF-8); the SDK, and the
receiver, read the header only.

:func:`seed_hrflow_journal` writes events to the journal as the receiver does, for tests
of the tap's runs that need no receiver.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.hrflow import parse_events
from tap_hrdata.webhooks.journal import JournalWriter, encode_line, journal_path

HEADER = "HTTP-HRFLOW-SIGNATURE"

#: Events of each kind, shaped as HrFlow's objects are (a profile in its source, a job in its board).
EVENTS: tuple[dict[str, Any], ...] = (
    {
        "type": "profile.parsing.success",
        "message": "profile parsed",
        "profile": {"key": "pk-1", "reference": "ref-1", "source": {"key": "src-a"}},
    },
    {"type": "profile.storing.update", "profile": {"key": "pk-2", "source": {"key": "src-b"}}},
    {"type": "job.storing.success", "job": {"key": "jk-1", "board": {"key": "board-a"}}},
    {"type": "action.stage.success", "profile": {"key": "pk-1"}, "job": {"key": "jk-1"}, "stage": "yes"},
)


def b64url(data: bytes) -> str:
    """URL-safe base64, padded (the SDK's decoder needs the padding)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def payload_text(event: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """An event's JSON text, as HrFlow serialises it (ASCII: the SDK decodes the payload as ASCII)."""
    return json.dumps(event, separators=(",", ":")).encode("ascii")


def signature_header(payload: bytes, secret: str) -> str:
    """The ``HTTP-HRFLOW-SIGNATURE`` value of ``payload`` signed with ``secret``."""
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest().encode("ascii")
    return f"{b64url(signature)}.{b64url(payload)}"


def tampered_payload(header: str, event: dict[str, Any]) -> str:
    """``header`` with another payload but the original signature (a forged event)."""
    signature = header.split(".", 1)[0]
    return f"{signature}.{b64url(payload_text(event))}"


def tampered_signature(header: str) -> str:
    """``header`` with one character of its signature changed."""
    signature, payload = header.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(signature))
    raw[0] = ord("0") if raw[0] != ord("0") else ord("1")
    return f"{b64url(bytes(raw))}.{payload}"


@dataclass
class HrflowWebhooks:
    """Sends signed HrFlow events to a callback URL and records the answers."""

    url: str
    secret: str
    sent: list[tuple[dict[str, Any] | list[dict[str, Any]], int]] = field(default_factory=list)

    def header(self, event: dict[str, Any] | list[dict[str, Any]]) -> str:
        return signature_header(payload_text(event), self.secret)

    def send(
        self,
        event: dict[str, Any] | list[dict[str, Any]],
        *,
        header: str | None = None,
        body: bytes | None = None,
    ) -> int:
        """POST ``event`` signed (or with ``header`` as given: a tampered one); the answer's status."""
        headers = {"Content-Type": "application/json", HEADER: header if header is not None else self.header(event)}
        data = body if body is not None else payload_text(event)
        status = requests.post(self.url, data=data, headers=headers, timeout=10).status_code
        self.sent.append((event, status))
        return status


def seed_hrflow_journal(
    files_storage_url: str | Path, events: tuple[dict[str, Any], ...] = EVENTS, received_at: str | None = None
) -> int:
    """Append ``events`` to the HrFlow journal under ``files_storage_url``, as the receiver does; its end."""
    path = journal_path(FileStorage(str(files_storage_url)), "hrflow")
    writer = JournalWriter(path, logging.getLogger("tests.hrflow_webhooks")).open()
    try:
        lines = [
            encode_line(
                {
                    "vendor": "hrflow",
                    "event": parsed.event,
                    "event_key": parsed.event_key,
                    "received_at": received_at or "2026-12-02T10:00:00.000000Z",
                    "body": parsed.body,
                }
            )
            for event in events
            for parsed in parse_events(payload_text(event))
        ]
        return writer.append(lines)
    finally:
        writer.close()
