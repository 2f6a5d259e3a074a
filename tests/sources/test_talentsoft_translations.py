"""Talentsoft ``referential_translations`` against the emulator: records, one call per item, concurrency, 404s."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tap_hrdata.settings import secret_settings
from tests.conftest import config_for, mount, run_tap, run_tap_partial
from tests.emulator.server import Emulator, Fault, Response
from tests.emulator.talentsoft import TalentsoftEmulator

STREAM = "referential_translations"
CATEGORIES = ["countries", "languages"]
WEBHOOK_SECRET = "wh-S3cret_0123456789.abc~"


def ts_config(emulator: Emulator, vendor: TalentsoftEmulator, tmp_path: Path, **talentsoft: Any) -> dict[str, Any]:
    settings = {"referential_categories": CATEGORIES, **talentsoft}
    return config_for(emulator, vendor, files=tmp_path / "files", talentsoft=settings)


def small(shape: str = "seed", **options: Any) -> TalentsoftEmulator:
    return TalentsoftEmulator(vacancies=2, candidates=1, attachments_per_candidate=(0, 1), shape=shape, **options)


def expected(vendor: TalentsoftEmulator, categories: list[str] = CATEGORIES) -> list[dict[str, Any]]:
    """Every translation the emulator serves, in category and item order, as the stream's records."""
    return [
        {"category": category, "item_id": key, "language": entry["lcid"], "label": entry["label"], "raw": entry}
        for category in categories
        for key, entries in vendor.system.translations(category).items()
        for entry in entries
    ]


def item_keys(vendor: TalentsoftEmulator, categories: list[str] = CATEGORIES) -> list[tuple[str, str]]:
    return [(category, key) for category in categories for key in vendor.system.translations(category)]


@pytest.mark.parametrize("shape", ["seed", "current"])
def test_records_are_the_emulators_translations_one_call_per_item(
    emulator: Emulator, tmp_path: Path, shape: str
) -> None:
    vendor = mount(emulator, small(shape))
    result = run_tap(ts_config(emulator, vendor, tmp_path, max_concurrent_requests=3))

    records = result.records(STREAM)
    assert records == expected(vendor)
    untranslated = [k for k in item_keys(vendor) if not vendor.system.translations(k[0])[k[1]]]
    assert untranslated  # some items answer 404: they have no rows, and the run did not fail
    assert {(r["category"], r["item_id"]) for r in records}.isdisjoint(untranslated)
    # The key joins referentials' (category, id); one call per item, each once, all languages at once.
    assert {(r["category"], r["id"]) for r in result.records("referentials")} == set(item_keys(vendor))
    calls = Counter(vendor.system.translation_calls)
    assert calls == Counter((category, key, None) for category, key in item_keys(vendor))
    assert len(vendor.system.translation_calls) == len(vendor.referential("countries")) + len(
        vendor.referential("languages")
    )


def test_calls_run_side_by_side_within_max_concurrent_requests(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, small(categories={"countries": 12, "languages": 6}))
    vendor.system.translation_delay = 0.05
    result = run_tap(ts_config(emulator, vendor, tmp_path, max_concurrent_requests=4))
    assert 2 <= vendor.system.translations_max_in_flight <= 4  # side by side, never past the setting
    assert result.records(STREAM) == expected(vendor)  # in item order whatever order the answers came in

    sequential = mount(emulator, small(categories={"countries": 12, "languages": 6}))
    sequential.system.translation_delay = 0.01
    again = run_tap(ts_config(emulator, sequential, tmp_path / "one", max_concurrent_requests=1))
    assert sequential.system.translations_max_in_flight == 1
    assert again.records(STREAM) == result.records(STREAM)


def test_a_429_is_waited_out_and_the_item_asked_again(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, small())
    vendor.faults.add(Fault(path_regex=r"^/api/referentials/countries/3/translations$", status=429, retry_after="0"))
    result = run_tap(ts_config(emulator, vendor, tmp_path, max_concurrent_requests=2))
    assert sum(vendor.faults.fired.values()) == 1
    assert result.records(STREAM) == expected(vendor)


def test_a_category_whose_items_all_answer_404_is_empty_and_said(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = mount(emulator, small())
    served = vendor.system.translations
    vendor.system.translations = lambda category: (
        {key: [] for key in served(category)} if category == "languages" else served(category)
    )
    with caplog.at_level(logging.WARNING):
        result = run_tap(ts_config(emulator, vendor, tmp_path))
    assert result.records(STREAM) == expected(vendor, ["countries"])
    assert "every item of category 'languages' (8) answered 404" in caplog.text
    assert "category 'countries'" not in caplog.text  # some of its items have translations


def test_no_categories_no_calls(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, small())
    result = run_tap(ts_config(emulator, vendor, tmp_path, referential_categories=[]))
    assert result.records(STREAM) == []
    assert vendor.system.translation_calls == []


def test_an_answer_that_is_not_translations_stops_the_run_naming_the_item(emulator: Emulator, tmp_path: Path) -> None:
    vendor = mount(emulator, small())
    original = vendor.handle
    vendor.handle = lambda request: (
        Response.json(200, "nothing here") if request.path.endswith("/2/translations") else original(request)
    )
    _, error = run_tap_partial(ts_config(emulator, vendor, tmp_path, max_concurrent_requests=1))
    assert "referential_translations" in str(error)
    assert "'countries' item '2'" in str(error)


def test_the_webhook_secret_is_a_secret_the_client_cuts_from_what_it_shows(emulator: Emulator, tmp_path: Path) -> None:
    assert "webhook_secret" in secret_settings("talentsoft")
    vendor = mount(emulator, small())
    original = vendor.handle
    body = f'{{"message": "bad callback https://hooks.example.com/talentsoft/{WEBHOOK_SECRET}"}}'.encode()
    vendor.handle = lambda request: (
        Response(400, body=body, headers={"Content-Type": "application/json"})
        if request.path.endswith("/translations")
        else original(request)
    )
    config = ts_config(emulator, vendor, tmp_path, webhook_secret=WEBHOOK_SECRET)
    partial, error = run_tap_partial(config)
    assert "HTTP 400" in str(error)
    assert "bad callback" in str(error)
    assert WEBHOOK_SECRET not in str(error)
    assert WEBHOOK_SECRET not in partial.text()
    assert "<redacted>" in str(error)
