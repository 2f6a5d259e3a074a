"""JSON schemas of the HrFlow streams."""
