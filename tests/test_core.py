"""The SDK's standard tap tests, run against the emulator."""

from __future__ import annotations

import tempfile

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hrdata.tap import TapHrData
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator

# The standard suite discovers streams when this module is imported, so the emulator
# must already be serving then; it lives as long as the test process.
TALENTSOFT = TalentsoftEmulator(vacancies=30, candidates=8)
EMULATOR = Emulator([TALENTSOFT]).start()
FILES = tempfile.mkdtemp(prefix="tap-hrdata-core-")

TALENTSOFT_CONFIG = {
    "files_storage_url": FILES,
    "talentsoft": {
        "base_url": EMULATOR.url(TALENTSOFT.prefix),
        "client_id": TALENTSOFT.client_id,
        "client_secret": TALENTSOFT.client_secret,
        "page_size": 11,
        "referential_categories": ["countries", "languages"],
    },
}

TestTapHrDataTalentsoft = get_tap_test_class(
    tap_class=TapHrData,
    config=TALENTSOFT_CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)
