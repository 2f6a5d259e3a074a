"""The SDK's standard tap tests with HrFlow configured, alone and together with Talentsoft."""

from __future__ import annotations

import tempfile

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hrdata.tap import TapHrData
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator

# The standard suite discovers streams when this module is imported, so the emulator
# must already be serving then; it lives as long as the test process.
HRFLOW = HrflowEmulator()
TALENTSOFT = TalentsoftEmulator(vacancies=12, candidates=5)
EMULATOR = Emulator([HRFLOW, TALENTSOFT]).start()
FILES = tempfile.mkdtemp(prefix="tap-hrdata-core-hrflow-")

HRFLOW_CONFIG = {
    "hrflow": {
        "base_url": EMULATOR.url(HRFLOW.prefix),
        "api_key": HRFLOW.api_key,
        "user_email": HRFLOW.user_email,
        "source_keys": ["src-a", "src-b", "src-empty-1"],
        "board_keys": ["board-a"],
        "page_size": 20,
    },
}

TALENTSOFT_CONFIG = {
    "files_storage_url": FILES,
    "talentsoft": {
        "base_url": EMULATOR.url(TALENTSOFT.prefix),
        "client_id": TALENTSOFT.client_id,
        "client_secret": TALENTSOFT.client_secret,
        "page_size": 5,
    },
}

TestTapHrDataHrflow = get_tap_test_class(
    tap_class=TapHrData,
    config=HRFLOW_CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)

TestTapHrDataHrflowAndTalentsoft = get_tap_test_class(
    tap_class=TapHrData,
    config={**HRFLOW_CONFIG, **TALENTSOFT_CONFIG},
    suite_config=SuiteConfig(max_records_limit=None),
)
