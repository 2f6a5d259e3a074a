"""``python -m tap_hrdata.webhooks``: the same as ``tap-hrdata-webhooks``."""

import sys

from tap_hrdata.webhooks.cli import main

sys.exit(main())
