"""The SDK's standard tap tests, run against the emulator: each source alone, and two together."""

from __future__ import annotations

import tempfile
from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hrdata.tap import TapHrData
from tests.conftest import config_for
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.hrflow_webhooks import seed_hrflow_journal
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator
from tests.webhooks.seed import seed_talentsoft_journal

# The standard suite discovers streams when this module is imported, so the emulator
# must already be serving then; it lives as long as the test process.
TALENTSOFT = TalentsoftEmulator(vacancies=30, candidates=8)
HRFLOW = HrflowEmulator()
YOUSERVE = YouserveEmulator()
CORESIGNAL = CoresignalEmulator(jobs=400, rate_limit=10_000, polls_until_ready=1)
EMULATOR = Emulator([TALENTSOFT, HRFLOW, YOUSERVE, CORESIGNAL]).start()
FILES = tempfile.mkdtemp(prefix="tap-hrdata-core-")

seed_talentsoft_journal(FILES)  # talentsoft_events has a journal to read
seed_hrflow_journal(FILES)  # and hrflow_events

TALENTSOFT_SETTINGS = {"page_size": 11, "referential_categories": ["countries", "languages"]}
HRFLOW_SETTINGS = {"source_keys": ["src-a", "src-b", "src-empty-1"], "board_keys": ["board-a"], "page_size": 20}
# max_records_limit=None everywhere: a record-limited run is an SDK dry run, and a dry run of
# Coresignal never buys a data request (it only checks the token), so it would have no records.
SUITE = SuiteConfig(max_records_limit=None)

TestTapHrDataTalentsoft = get_tap_test_class(
    tap_class=TapHrData,
    config=config_for(EMULATOR, TALENTSOFT, files=FILES, talentsoft=TALENTSOFT_SETTINGS),
    suite_config=SUITE,
)


def every_stream_selected(config: dict[str, Any]) -> dict[str, Any]:
    """The discovered catalog with every stream selected (hrflow_profile_attachments is off by default)."""
    catalog = TapHrData(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
    return catalog


HRFLOW_CONFIG = config_for(EMULATOR, HRFLOW, files=FILES, hrflow=HRFLOW_SETTINGS)
TestTapHrDataHrflow = get_tap_test_class(
    tap_class=TapHrData,
    config=HRFLOW_CONFIG,
    suite_config=SUITE,
    catalog=every_stream_selected(HRFLOW_CONFIG),
)
HRFLOW_AND_TALENTSOFT_CONFIG = config_for(
    EMULATOR, HRFLOW, TALENTSOFT, files=FILES, hrflow=HRFLOW_SETTINGS, talentsoft={"page_size": 5}
)
TestTapHrDataHrflowAndTalentsoft = get_tap_test_class(
    tap_class=TapHrData,
    config=HRFLOW_AND_TALENTSOFT_CONFIG,
    suite_config=SUITE,
    catalog=every_stream_selected(HRFLOW_AND_TALENTSOFT_CONFIG),
)
TestTapHrDataYouserve = get_tap_test_class(
    tap_class=TapHrData,
    config=config_for(
        EMULATOR,
        YOUSERVE,
        files=FILES,
        youserve={"business_types": [7101, 8000, 101100], "page_size": 5, "chunk_size_bytes": 65536},
    ),
    suite_config=SUITE,
)
TestTapHrDataCoresignal = get_tap_test_class(
    tap_class=TapHrData,
    config=config_for(EMULATOR, CORESIGNAL, coresignal={"poll_interval_seconds": 0.01}),
    suite_config=SUITE,
)
