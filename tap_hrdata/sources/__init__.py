"""The vendor sources. Each subpackage exports one :class:`Source`; :func:`all_sources` lists them.

A fifth vendor is one more subpackage here (its client, streams and schemas), one more
settings block in ``tap_hrdata/settings.py`` and one more line in :func:`all_sources`:
nothing else moves (see docs/architecture.md).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_hrdata.http.client import VendorClient
    from tap_hrdata.streams import VendorStream


@dataclass(frozen=True)
class Source:
    """One vendor API: its settings block, what makes it configured, its client and streams."""

    #: Name of the settings block (``talentsoft`` ...), also used in logs and errors.
    name: str
    #: Human name of the vendor product.
    title: str
    #: Settings of the block that must be set for the source to take part in a run.
    required: tuple[str, ...]
    #: The source's HTTP client (one per run, shared by its streams).
    client_type: type[VendorClient]
    #: Stream classes, parents before children.
    stream_types: tuple[type[VendorStream], ...]
    #: Groups of settings of which exactly one must be set (two credentials of two API generations).
    one_of: tuple[tuple[str, ...], ...] = ()

    def is_configured(self, settings: Mapping[str, t.Any]) -> bool:
        """True when every required setting has a value, and one of each ``one_of`` group."""
        return all(_is_set(settings, name) for name in self.required) and all(
            any(_is_set(settings, name) for name in group) for group in self.one_of
        )

    def missing(self, settings: Mapping[str, t.Any]) -> list[str]:
        """The dotted names of what is still needed for the source to take part."""
        names = [f"{self.name}.{name}" for name in self.required if not _is_set(settings, name)]
        names += [
            " or ".join(f"{self.name}.{name}" for name in group)
            for group in self.one_of
            if not any(_is_set(settings, name) for name in group)
        ]
        return names

    def conflicts(self, settings: Mapping[str, t.Any]) -> list[str]:
        """One message per ``one_of`` group with more than one setting set."""
        return [
            f"set only one of {' or '.join(f'{self.name}.{name}' for name in group)}, not both"
            for group in self.one_of
            if sum(_is_set(settings, name) for name in group) > 1
        ]

    def enabled_by(self) -> str:
        """What makes the source take part in a run, for --about."""
        parts = [f"{self.name}.{name}" for name in self.required]
        parts += [" or ".join(f"{self.name}.{name}" for name in group) for group in self.one_of]
        return ", ".join(parts)


def _is_set(settings: Mapping[str, t.Any], name: str) -> bool:
    return settings.get(name) not in (None, "", [])


def all_sources() -> tuple[Source, ...]:
    """Every source the tap knows, in documentation order."""
    # Imported here: each source package imports this module for `Source`.
    from tap_hrdata.sources.coresignal import SOURCE as CORESIGNAL  # noqa: PLC0415
    from tap_hrdata.sources.hrflow import SOURCE as HRFLOW  # noqa: PLC0415
    from tap_hrdata.sources.talentsoft import SOURCE as TALENTSOFT  # noqa: PLC0415
    from tap_hrdata.sources.youserve import SOURCE as YOUSERVE  # noqa: PLC0415

    return (TALENTSOFT, HRFLOW, YOUSERVE, CORESIGNAL)
