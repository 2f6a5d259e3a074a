"""Contract fixtures: vendor answer shapes from the vendors' docs and public clients."""
