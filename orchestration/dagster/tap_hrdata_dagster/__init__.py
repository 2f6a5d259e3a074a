"""tap-hrdata's Dagster code location: ``dagster dev -m tap_hrdata_dagster.definitions``."""
