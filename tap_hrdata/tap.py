"""TapHrData: the settings contract, discovery of the configured sources only, run-wide services."""

from __future__ import annotations

import copy
import typing as t
from functools import cached_property

from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_hrdata.http.urls import check_transport
from tap_hrdata.settings import CONFIG_SCHEMA, global_settings, source_settings
from tap_hrdata.sources import all_sources
from tap_hrdata.storage import FileStorage

if t.TYPE_CHECKING:
    from singer_sdk import Stream

    from tap_hrdata.http.client import VendorClient

ClientT = t.TypeVar("ClientT", bound="VendorClient")


def _about_description() -> str:
    """One line (the --about formatters expect one): each source, what enables it, its streams."""
    parts = []
    for source in all_sources():
        streams = ", ".join(cls.name for cls in source.stream_types)  # type: ignore[misc]  # class attribute
        parts.append(f"{source.title} (enabled by {source.enabled_by()}): {streams}")
    return "Singer tap for HR data. Sources and their streams: " + "; ".join(parts) + "."


class TapHrData(Tap):
    """Singer tap for HR data."""

    name = "tap-hrdata"
    # A copy: the SDK adds its built-in settings (stream_maps ...) to this dict in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = MsgSpecWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._clients: dict[type[VendorClient], VendorClient] = {}
        super().__init__(*args, **kwargs)

    @override
    def discover_streams(self) -> list[Stream]:
        """Streams of the sources whose required settings are present."""
        streams: list[Stream] = []
        for source in all_sources():
            settings = source_settings(self.config, source.name)
            if not source.is_configured(settings):
                continue
            client = self.client(source.client_type)
            if problems := source.conflicts(settings) + client.problems():
                raise ConfigValidationError(problems[0], errors=problems)
            for setting, url in client.urls().items():
                check_transport(url, f"{source.name}.{setting}")
            streams.extend(stream_type(tap=self) for stream_type in source.stream_types)
        if not streams:
            self.logger.warning("No source is configured: set at least one source's required settings.")
        return streams

    def client(self, client_type: type[ClientT]) -> ClientT:
        """The one client of a source for this run, shared by its streams (and its token)."""
        if client_type not in self._clients:
            self._clients[client_type] = client_type(self.config, self.logger)
        return t.cast("ClientT", self._clients[client_type])

    @cached_property
    def storage(self) -> FileStorage:
        """Where file bytes go (``files_storage_url``)."""
        settings = global_settings(self.config)
        return FileStorage(settings["files_storage_url"], inline_max_bytes=int(settings["inline_files_max_bytes"]))


TapHrData.__doc__ = _about_description()
