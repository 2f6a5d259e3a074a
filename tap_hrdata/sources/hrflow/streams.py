"""HrFlow streams: profiles and jobs (incremental on updated_at), sources and boards (full table).

Each record has typed columns for what users filter and join on, and the complete
vendor object, as served, in ``raw``.
"""

from __future__ import annotations

import typing as t

from singer_sdk import SchemaDirectory, StreamSchema

from tap_hrdata.sources.hrflow import schemas
from tap_hrdata.sources.hrflow.client import HrflowStream, SearchStream, iso_timestamp

SCHEMAS = SchemaDirectory(schemas)


def _obj(value: object) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _common(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """The columns every HrFlow object has."""
    return {
        "key": str(item["key"]),
        "created_at": iso_timestamp(item.get("created_at")),
        "updated_at": iso_timestamp(item.get("updated_at")),
    }


class ProfilesStream(SearchStream):
    """Profiles of the configured sources (``GET /profiles/searching``)."""

    name = "hrflow_profiles"
    schema = StreamSchema(SCHEMAS)
    path = "/profiles/searching"
    data_field = "profiles"
    keys_setting = "source_keys"

    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, reference, source, dates, names, email, phone and location; ``raw`` keeps it all."""
        info = _obj(item.get("info"))
        location = _obj(info.get("location"))
        source = _obj(item.get("source"))
        return {
            **_common(item),
            "reference": _text(item.get("reference")),
            "source_key": _text(source.get("key")),
            "source_name": _text(source.get("name")),
            "archived_at": iso_timestamp(item.get("archived_at")),
            "full_name": _text(info.get("full_name")),
            "first_name": _text(info.get("first_name")),
            "last_name": _text(info.get("last_name")),
            "email": _text(info.get("email")),
            "phone": _text(info.get("phone")),
            "location_text": _text(location.get("text")),
            "location_lat": _number(location.get("lat")),
            "location_lng": _number(location.get("lng")),
            "text_language": _text(item.get("text_language")),
            "raw": item,
        }


class JobsStream(SearchStream):
    """Jobs of the configured boards (``GET /jobs/searching``)."""

    name = "hrflow_jobs"
    schema = StreamSchema(SCHEMAS)
    path = "/jobs/searching"
    data_field = "jobs"
    keys_setting = "board_keys"

    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, reference, board, dates, name, URL and location; ``raw`` keeps it all."""
        location = _obj(item.get("location"))
        geopoint = _obj(location.get("geopoint"))
        board = _obj(item.get("board"))
        return {
            **_common(item),
            "reference": _text(item.get("reference")),
            "board_key": _text(board.get("key")),
            "board_name": _text(board.get("name")),
            "archived_at": iso_timestamp(item.get("archived_at")),
            "name": _text(item.get("name")),
            "url": _text(item.get("url")) or None,
            "location_text": _text(location.get("text")),
            "location_lat": _number(geopoint.get("lat")),
            "location_lng": _number(geopoint.get("lon")),
            "raw": item,
        }


class ContainerStream(HrflowStream):
    """A workspace's sources or boards: a short list, synced whole."""

    def item_record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """Key, name, kind, dates and size; ``raw`` keeps it all."""
        return {
            **_common(item),
            "name": _text(item.get("name")),
            "description": _text(item.get("description")),
            "type": _text(item.get("type")),
            "subtype": _text(item.get("subtype")),
            "size": _integer(_obj(item.get("stats")).get("size")),
            "raw": item,
        }


class SourcesStream(ContainerStream):
    """Sources of the workspace (``GET /sources``)."""

    name = "hrflow_sources"
    schema = StreamSchema(SCHEMAS)
    path = "/sources"


class BoardsStream(ContainerStream):
    """Boards of the workspace (``GET /boards``)."""

    name = "hrflow_boards"
    schema = StreamSchema(SCHEMAS)
    path = "/boards"
