"""Stream ``hrflow_events``: the HrFlow webhook events the receiver verified and journalled.

The receiver's HrFlow route (``tap-hrdata-webhooks serve`` with ``hrflow.webhook_secret``)
journals the payload of each delivery whose ``HTTP-HRFLOW-SIGNATURE`` it verified (see
:mod:`tap_hrdata.webhooks.hrflow`) to ``webhooks/hrflow/events.jsonl``; this stream reads
it as :mod:`tap_hrdata.webhooks.stream` describes (incremental on the journal position,
each event once, keyed by its id or the hash of its payload), with the profile or job an
event names as typed columns.
"""

from __future__ import annotations

import typing as t

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_hrdata.sources.hrflow import schemas
from tap_hrdata.sources.hrflow.client import HrflowClient
from tap_hrdata.streams import ColumnSources
from tap_hrdata.webhooks.hrflow import container_key, named_object
from tap_hrdata.webhooks.stream import JournalEventsStream

SCHEMAS = SchemaDirectory(schemas)


class HrflowEventsStream(JournalEventsStream):
    """The journal of HrFlow webhook events (see the module docstring)."""

    name = "hrflow_events"
    vendor = "hrflow"
    schema = StreamSchema(SCHEMAS)
    column_sources: t.ClassVar[ColumnSources] = {
        "event": (("type",),),
        "object_key": (("profile", "key"), ("job", "key"), ("profile_key",), ("job_key",)),
        "source_key": (("profile", "source", "key"), ("source_key",)),
        "board_key": (("job", "board", "key"), ("board_key",)),
    }

    @property
    @override
    def client(self) -> HrflowClient:
        """The run's HrFlow client (this stream makes no call; it keeps the summary's counts)."""
        return self._tap.client(HrflowClient)

    @classmethod
    @override
    def event_columns(cls, event: str, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """The profile or job the event names, and its source or board."""
        kind, key = named_object(event, body)
        return {
            "object_type": kind,
            "object_key": key,
            "source_key": container_key("profile", body),
            "board_key": container_key("job", body),
        }
