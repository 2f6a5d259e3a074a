"""The SDK's standard tap tests with YouServe configured alone, run against the emulator."""

from __future__ import annotations

import tempfile

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hrdata.tap import TapHrData
from tests.emulator.server import Emulator
from tests.emulator.youserve import YouserveEmulator

# The standard suite discovers streams when this module is imported, so the emulator
# must already be serving then; it lives as long as the test process.
YOUSERVE = YouserveEmulator()
EMULATOR = Emulator([YOUSERVE]).start()
FILES = tempfile.mkdtemp(prefix="tap-hrdata-core-youserve-")
BASE_URL = EMULATOR.url(YOUSERVE.prefix)

YOUSERVE_CONFIG = {
    "files_storage_url": FILES,
    "youserve": {
        "base_url": BASE_URL,
        "token_url": BASE_URL + "/authentication/token",
        "client_id": YOUSERVE.client_id,
        "client_secret": YOUSERVE.client_secret,
        "tenant_id": YOUSERVE.tenant_id,
        "business_types": [7101, 8000, 101100],
        "page_size": 5,
        "chunk_size_bytes": 65536,
    },
}

TestTapHrDataYouserve = get_tap_test_class(
    tap_class=TapHrData,
    config=YOUSERVE_CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)
