"""JSON schemas of the YouServe streams."""
