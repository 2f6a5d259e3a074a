"""JSON schemas of the Coresignal streams, one file per stream name."""
