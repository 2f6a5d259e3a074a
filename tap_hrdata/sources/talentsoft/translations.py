"""Stream ``referential_translations``: every translation of every item of the configured referentials.

The doc's referentials cinematic: list a category (``GET /api/v1/referentials/{category}``),
then, with the id of each item, ``GET /api/referentials/{category}/{id}/translations``
(all its languages; note the path has no ``v1``, as the doc writes it). One call per item,
run side by side through the client's workers (``talentsoft.max_concurrent_requests``), so
every call shares the run's token, its retries and the source-wide pause after a 429; records
come out in the category's item order whatever order the answers arrive in.

The item's key is the one the ``referentials`` stream gives it (its ``id``, else ``code``,
else ``clientCode``: the exports' items often have no ``id``). The doc shows no answer
body; the stream reads a JSON array of translation objects (or an object holding one under
``items``, ``data`` or ``translations``, or one translation object, as ``/{lcid}`` answers),
the language from the first of ``lcid``, ``language``, ``languageCode``, ``culture``,
``cultureName``, the label from ``label``, ``value``, ``translation``, ``text``; and a plain
``{language: label}`` object. A 404 for one item means it has no translations: no rows, no
error. When every item of a category answers 404, the run says so in a warning (a site
that serves this endpoint elsewhere would otherwise look like one without translations).

Full table: each run reads every translation again (reference data, small).
"""

from __future__ import annotations

import functools
import typing as t
from http import HTTPStatus
from urllib.parse import quote

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.sources.talentsoft import schemas
from tap_hrdata.sources.talentsoft.client import ExportDataError, TalentsoftClient
from tap_hrdata.streams import ColumnSources, VendorStream
from tap_hrdata.values import label, text

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

    from tap_hrdata.http.concurrency import Call, Task

SCHEMAS = SchemaDirectory(schemas)
STREAM = "referential_translations"
#: Where an item's key is read, in order (as the ``referentials`` stream keys items).
KEY_FIELDS = ("id", "code", "clientCode")
LANGUAGE_FIELDS = ("lcid", "language", "languageCode", "culture", "cultureName")
LABEL_FIELDS = ("label", "value", "translation", "text")
#: Where an object wraps the list of translations.
LIST_FIELDS = ("items", "data", "translations")


class ItemTranslations(t.NamedTuple):
    """One item's answer: its category and key, its translation objects (None: 404) and the bytes read."""

    category: str
    key: str
    translations: list[dict[str, t.Any]] | None
    size: int


class ReferentialTranslationsStream(VendorStream):
    """Translations of the referential items of each configured category (see the module docstring)."""

    name = STREAM
    primary_keys = ("category", "item_id", "language")
    schema = StreamSchema(SCHEMAS)
    column_sources: t.ClassVar[ColumnSources] = {
        "language": tuple((name,) for name in LANGUAGE_FIELDS),
        "label": tuple((name,) for name in LABEL_FIELDS),
    }

    @property
    @override
    def client(self) -> TalentsoftClient:
        """The run's Talentsoft client."""
        return self._tap.client(TalentsoftClient)

    # ---- requests ----------------------------------------------------------------------------

    def listing_request(self, category: str) -> HTTPRequest:
        """``GET /api/v1/referentials/{category}``: the category's items."""
        return HTTPRequest(url=f"{self.client.base_url}/api/v1/referentials/{quote(category, safe='')}")

    def translations_request(self, category: str, key: str) -> HTTPRequest:
        """``GET /api/referentials/{category}/{id}/translations``, each quoted as one path segment."""
        return HTTPRequest(
            url=f"{self.client.base_url}/api/referentials/{quote(category, safe='')}/{quote(key, safe='')}/translations"
        )

    def category_keys(self, category: str) -> list[str]:
        """The keys of one category's items, in the category's order (one listing call)."""
        answer = self.client.json(self.listing_request(category), stream=self.name)
        self.stats.add(bytes=answer.size)
        payload = answer.json()
        items = payload if isinstance(payload, list) else None
        if isinstance(payload, dict):
            items = payload.get("items") or payload.get("data") or []
        if not isinstance(items, list):
            msg = f"talentsoft stream '{self.name}': category {category!r} answered without a list of items"
            raise ExportDataError(msg)
        keys = []
        for item in items:
            key = (
                next((text(item[name]) for name in KEY_FIELDS if text(item.get(name))), None)
                if isinstance(item, dict)
                else None
            )
            if key is None:
                msg = (
                    f"talentsoft stream '{self.name}': category {category!r} holds an item that is not an object "
                    "with an id, code or clientCode to key it by"
                )
                raise ExportDataError(msg)
            keys.append(key)
        return keys

    def fetch(self, category: str, key: str, _task: Task) -> ItemTranslations:
        """One item's translations (a worker's call): None when the item has none (404)."""

        def read(response: requests.Response) -> ItemTranslations:
            if response.status_code == HTTPStatus.NOT_FOUND:
                return ItemTranslations(category, key, None, 0)
            answer = self.client.read_json(response, stream=self.name)
            return ItemTranslations(category, key, self.translation_objects(category, key, answer.json()), answer.size)

        return self.client.call(
            self.translations_request(category, key),
            read,
            stream=self.name,
            where=f"translations of {category!r} item {key!r}",
            answers={HTTPStatus.NOT_FOUND},
        )

    def translation_objects(self, category: str, key: str, payload: object) -> list[dict[str, t.Any]]:
        """The translation objects of one answer (see the module docstring for the shapes read)."""
        if isinstance(payload, dict):
            wrapped = next((payload[name] for name in LIST_FIELDS if isinstance(payload.get(name), list)), None)
            if wrapped is not None:
                payload = wrapped
            elif any(name in payload for name in LANGUAGE_FIELDS):
                payload = [payload]
            elif payload and all(isinstance(value, str) for value in payload.values()):
                return [{language: value} for language, value in payload.items()]  # {language: label}
        if not isinstance(payload, list) or not all(isinstance(entry, dict) for entry in payload):
            msg = (
                f"talentsoft stream '{self.name}': translations of {category!r} item {key!r}: the answer is not "
                "a list of translation objects"
            )
            raise ExportDataError(msg)
        return payload

    # ---- records -----------------------------------------------------------------------------

    @override
    def records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Each category listed, then one call per item through the workers, records in item order."""
        categories = [str(c) for c in self.settings.get("referential_categories") or [] if c]
        listed: dict[str, int] = {}
        missing: dict[str, int] = {}

        def calls() -> Iterator[Call[ItemTranslations]]:
            for category in categories:  # listed lazily: a category's listing waits for no call of the one before
                keys = self.category_keys(category)
                listed[category] = listed.get(category, 0) + len(keys)
                yield from (functools.partial(self.fetch, category, key) for key in keys)

        for answer in self.client.workers.in_order(calls()):
            self.stats.add(bytes=answer.size)
            if answer.translations is None:
                missing[answer.category] = missing.get(answer.category, 0) + 1
                continue
            for entry in answer.translations:
                yield self.translation_record(answer.category, answer.key, entry)
        for category, count in listed.items():
            if count and missing.get(category) == count:
                self.logger.warning(
                    "talentsoft stream '%s': every item of category %r (%d) answered 404 to "
                    "/api/referentials/%s/{id}/translations: none has translations, or the site serves them elsewhere",
                    self.name,
                    category,
                    count,
                    category,
                )

    def translation_record(self, category: str, key: str, entry: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record of one translation object."""
        if len(entry) == 1 and not any(name in entry for name in (*LANGUAGE_FIELDS, *LABEL_FIELDS)):
            ((language, value),) = entry.items()  # {language: label}
            given: str | None = text(language)
            shown = label(value)
        else:
            given = next((text(entry[name]) for name in LANGUAGE_FIELDS if text(entry.get(name))), None)
            shown = next((label(entry[name]) for name in LABEL_FIELDS if label(entry.get(name))), None)
        if given is None:
            msg = (
                f"talentsoft stream '{self.name}': translations of {category!r} item {key!r} hold an entry with no "
                f"language ({', '.join(LANGUAGE_FIELDS)})"
            )
            raise ExportDataError(msg)
        return {"category": category, "item_id": key, "language": given, "label": shown, "raw": entry}
