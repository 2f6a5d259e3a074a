"""The vendors' own clients against our emulator: what they send is accepted, what they get validates.

Our emulator was written from the same pages as our code; a vendor's public client was not.
HrFlow's Python SDK (PyPI ``hrflow``, ``Riminder/python-hrflow-api``) is run here as a user
would run it, against the emulator serving the current shapes, and each object it receives
is validated with the SDK's own pydantic models (``hrflow.schemas``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hrflow import Hrflow
from hrflow import schemas as sdk

from tests.conftest import mount
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator

#: The SDK's models take 40-hex keys, as the real API gives them.
SOURCE, BOARD = "07065e555609a231752a586afd6495c951bbae6b", "b" * 40


@pytest.fixture
def client(emulator: Emulator) -> Any:  # the SDK's client is untyped
    vendor = HrflowEmulator(
        api_key="sdk-key",
        user_email="sdk@example.com",
        sources={SOURCE: 12},
        boards={BOARD: 9},
        shape="current",
        unindexed_profiles=2,
        unindexed_jobs=1,
    )
    mount(emulator, vendor)
    return Hrflow(api_url=emulator.url(vendor.prefix) + "/", api_secret="sdk-key", api_user="sdk@example.com")


def ok(answer: dict[str, Any]) -> list[dict[str, Any]]:
    assert answer["code"] == 200, answer
    data = answer["data"]
    items = data if isinstance(data, list) else next(iter(data.values()))
    assert items, answer
    return items


def test_sources_and_boards(client: Any) -> None:
    for container in (*ok(client.source.list()), *ok(client.board.list())):
        sdk.Board.model_validate(container)


def test_storing_lists_every_profile_and_job_in_the_sdks_models(client: Any) -> None:
    profiles = ok(client.profile.storing.list(source_keys=[SOURCE], return_profile=True, sort_by="updated_at"))
    jobs = ok(client.job.storing.list(board_keys=[BOARD], return_job=True, sort_by="updated_at"))
    for profile in profiles:
        sdk.HrFlowProfile.model_validate(profile)
    for job in jobs:
        sdk.HrFlowJob.model_validate(job)
        assert isinstance(job["location"]["lat"], float)  # coordinates at location.lat/lng today
    assert (len(profiles), len(jobs)) == (12 + 2, 9 + 1)  # unindexed objects included


def test_searching_lists_only_indexed_objects(client: Any) -> None:
    profiles = ok(client.profile.searching.list(source_keys=[SOURCE], limit=100))
    jobs = ok(client.job.searching.list(board_keys=[BOARD], limit=100))
    assert (len(profiles), len(jobs)) == (12, 9)
