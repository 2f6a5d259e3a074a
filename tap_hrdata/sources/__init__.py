"""The vendor sources. Each subpackage exports one :class:`Source`; ``SOURCES`` lists them.

A fifth vendor is one more subpackage here, one more settings block in
``tap_hrdata/settings.py`` and one more entry in ``SOURCES``: nothing else moves.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from singer_sdk import Stream
    from singer_sdk.authenticators import APIAuthenticatorBase

    from tap_hrdata.tap import TapHrData


@dataclass(frozen=True)
class Source:
    """One vendor API: its settings block, what makes it configured, its streams."""

    #: Name of the settings block (``talentsoft`` ...), also used in logs and errors.
    name: str
    #: Human name of the vendor product.
    title: str
    #: Settings of the block that must be set for the source to take part in a run.
    required: tuple[str, ...]
    #: Stream classes, parents before children.
    stream_types: tuple[type[Stream], ...]
    #: Settings holding URLs that credentials are sent to (checked: https or loopback).
    url_settings: tuple[str, ...] = ("base_url",)
    #: Builds the source's one authenticator for the run, if it has one.
    make_authenticator: Callable[[TapHrData], APIAuthenticatorBase] | None = None

    def is_configured(self, settings: Mapping[str, t.Any]) -> bool:
        """True when every required setting has a value."""
        return all(settings.get(name) not in (None, "", []) for name in self.required)


def all_sources() -> tuple[Source, ...]:
    """Every source the tap knows, in documentation order."""
    # Imported here: each source package imports this module for `Source`.
    from tap_hrdata.sources.coresignal import SOURCE as CORESIGNAL  # noqa: PLC0415
    from tap_hrdata.sources.hrflow import SOURCE as HRFLOW  # noqa: PLC0415
    from tap_hrdata.sources.talentsoft import SOURCE as TALENTSOFT  # noqa: PLC0415
    from tap_hrdata.sources.youserve import SOURCE as YOUSERVE  # noqa: PLC0415

    return (TALENTSOFT, HRFLOW, YOUSERVE, CORESIGNAL)
