"""Run the tap: python -m tap_hrdata."""

from tap_hrdata.tap import TapHrData

TapHrData.cli()
