"""Where credentials may travel: https, or plain http to this machine only."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from singer_sdk.exceptions import ConfigValidationError


def is_loopback(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1 addresses."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str, setting: str) -> None:
    """Refuse a URL credentials must not be sent to; the error names ``setting``, not the URL."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        msg = f"{setting} uses plain http:// to a non-loopback host; credentials are sent only over https://"
    else:
        msg = f"{setting} must be an https:// URL"
    raise ConfigValidationError(msg, errors=[msg])  # the SDK's CLI prints only `errors`
